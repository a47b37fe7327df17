"""Runs every request that may write (POST, PUT, PATCH, DELETE) in one
transaction that records the signed-in user as crm_purge.actor and the
X-Crm-Reason header (or the method and path) as crm_purge.reason.

Like ATOMIC_REQUESTS, but the transaction also covers set_config() (views
wrapped by ATOMIC_REQUESTS start their transaction after middleware ran).
An exception in the view becomes a 5xx response before it reaches this
middleware, so a 5xx response rolls the transaction back."""
from django.db import DEFAULT_DB_ALIAS, transaction

from .audit import set_audit

SAFE_METHODS = frozenset(['GET', 'HEAD', 'OPTIONS', 'TRACE'])


class CrmPurgeAuditMiddleware:
    using = DEFAULT_DB_ALIAS

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.method in SAFE_METHODS:
            return self.get_response(request)
        user = getattr(request, 'user', None)
        actor = user.get_username() if user is not None and user.is_authenticated else 'anonymous'
        reason = request.headers.get('X-Crm-Reason') or '%s %s' % (request.method, request.path)
        with transaction.atomic(using=self.using):
            set_audit(actor, reason, self.using)
            response = self.get_response(request)
            if response.status_code >= 500:
                transaction.set_rollback(True, using=self.using)
            return response
