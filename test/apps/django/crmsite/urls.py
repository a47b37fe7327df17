from django.urls import path

from crm import views

urlpatterns = [
    path('accounts/<int:pk>/delete/', views.delete_account),
]
