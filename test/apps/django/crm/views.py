from django.http import HttpResponseNotAllowed, JsonResponse
from django.shortcuts import get_object_or_404

from .models import Account


def delete_account(request, pk):
    """POST: deletes an account (contacts, interactions and notes go with it,
    deals are unlinked). ?fail=1 fails after the delete (for the test that
    the middleware rolls back)."""
    if request.method != 'POST':
        return HttpResponseNotAllowed(['POST'])
    account = get_object_or_404(Account, pk=pk)
    deleted, per_model = account.delete()
    if request.GET.get('fail'):
        raise RuntimeError('failing after the delete, on purpose')
    return JsonResponse({'deleted': deleted, 'per_model': per_model})
