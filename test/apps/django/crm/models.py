"""A small CRM. The migrations change these tables after they are protected
(0002): 0003 adds Contact.phone and Deal.contact, 0004 renames Deal.title to
name, 0005 changes Deal.amount (integer -> numeric) and Account.employees
(varchar -> integer), 0006 removes Contact.fax, 0007 renames Activity to
Interaction."""
from django.contrib.contenttypes.fields import GenericForeignKey, GenericRelation
from django.contrib.contenttypes.models import ContentType
from django.db import models


class Account(models.Model):
    name = models.CharField(max_length=100)
    employees = models.IntegerField(null=True, blank=True)
    notes = GenericRelation('Note')

    def __str__(self):
        return self.name


class Contact(models.Model):
    # Django cascades itself: the database key has no ON DELETE action
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name='contacts')
    name = models.CharField(max_length=100)
    email = models.EmailField(blank=True, default='')
    phone = models.CharField(max_length=30, default='')


class Deal(models.Model):
    # on_delete=SET_NULL: Django sends UPDATE deal SET account_id = NULL
    account = models.ForeignKey(Account, on_delete=models.SET_NULL, null=True, related_name='deals')
    contact = models.ForeignKey(Contact, on_delete=models.SET_NULL, null=True, blank=True,
                                related_name='deals')
    name = models.CharField(max_length=100)
    amount = models.DecimalField(max_digits=12, decimal_places=2, default=0)


class Interaction(models.Model):
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE)
    body = models.TextField()


class Note(models.Model):
    """A generic relation: no foreign key to the account at all; Django
    deletes an account's notes itself (GenericRelation)."""
    content_type = models.ForeignKey(ContentType, on_delete=models.CASCADE)
    object_id = models.PositiveIntegerField()
    content_object = GenericForeignKey('content_type', 'object_id')
    text = models.TextField()


class Lead(models.Model):
    """Imported from a sync; guarded against re-imports of erased leads."""
    email = models.EmailField(unique=True)
    name = models.CharField(max_length=100)
