"""Webhooks: endpoints per world, signed as the cloud signs them (Svix), delivered in the
background with retries on the world's clock, every attempt journalled."""
