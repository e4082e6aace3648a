"""Which of this version's documented operations have no handler of their own, and why (see
``v2026_08_22/coverage.py``). ``NOT_MODELLED`` answer 501 ``not_implemented``: this version's
sandbox models wallets and customers only, so its invoices, payments and subscriptions are refused
rather than faked. ``UNROUTED``: none; the one route upstream's document writes wrong
(``/tenant/billing``) is served where its server has it (``/tenants/billing``)."""

from __future__ import annotations

NOT_MODELLED = frozenset(
    {
        # invoices
        "getInvoices",
        "createInvoice",
        "getInvoicePreview",
        "getInvoice",
        "finalizeInvoice",
        "updateInvoicePaymentStatus",
        "attemptInvoicePayment",
        "getInvoicePdf",
        "voidInvoice",
        "getCustomerInvoiceSummary",
        # payments
        "listPayments",
        "createPayment",
        "getPayment",
        "updatePayment",
        "deletePayment",
        "processPayment",
        # subscriptions: made, cancelled, paused, resumed, phased
        "createSubscription",
        "cancelSubscription",
        "postSubscriptionsByIdPause",
        "postSubscriptionsByIdResume",
        "postSubscriptionsByIdPhases",
        # API keys that would have to authenticate; a task run that would import
        "createApiKey",
        "deleteApiKey",
        "postTasksByIdProcess",
    }
)
UNROUTED: frozenset[str] = frozenset()
