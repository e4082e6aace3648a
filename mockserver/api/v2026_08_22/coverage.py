"""Which of this version's documented operations have no handler of their own, and why.

``NOT_MODELLED``: answered 501 ``not_implemented`` until they are modelled: everything that moves
money or changes an invoice, a credit note or a subscription (a faked success there would let a
test pass on what the cloud would refuse or do otherwise). An operation that gains a handler is
modelled whether or not it is still listed here; take it off the list then.

``UNROUTED``: listed in upstream's document but routed nowhere by its server (the document marks
them ``x-mock-unrouted``): 404 as upstream answers. The five it publishes at a wrong path (``/v1``
doubled in the schedules' paths, ``/tenant/billing``) are served where upstream routes them.
"""

from __future__ import annotations

CREDIT_NOTES = frozenset({"createCreditNote", "processCreditNote", "voidCreditNote"})
SUBSCRIPTION_CHANGES = frozenset(
    {
        "activateSubscription",
        "addSubscriptionAddon",
        "removeSubscriptionAddon",
        "previewSubscriptionChange",
        "executeSubscriptionChange",
        "previewSubscriptionPlanChangeV2",
        "executeSubscriptionPlanChangeV2",
        "previewSubscriptionModify",
        "executeSubscriptionModify",
        "createSubscriptionLineItem",
        "updateSubscriptionLineItem",
        "deleteSubscriptionLineItem",
    }
)
# API keys: in the sandbox every key opens its own world, so a key "created" here would open one
# whatever the answer said, and one "deleted" would go on working.
API_KEYS = frozenset({"createApiKey", "deleteApiKey"})

NOT_MODELLED = CREDIT_NOTES | SUBSCRIPTION_CHANGES | API_KEYS

UNROUTED = frozenset(
    {
        "getTaskResult",  # no route
        "getHuggingfaceInferenceData",  # the route is /events/huggingface-billing, outside the API's
        "scheduleDraftFinalization",  # the routes are /subscriptions/temporal/..., outside the API's
        "scheduleUpdateBillingPeriod",
    }
)
