from django import forms
from django.contrib.auth.forms import AuthenticationForm

from .enums import CLIENT_ROLES, KeyScope, Role


class EmailAuthenticationForm(AuthenticationForm):
    username = forms.EmailField(
        label="E-mail", widget=forms.EmailInput(attrs={"autofocus": True, "autocomplete": "email"})
    )


class InviteUserForm(forms.Form):
    email = forms.EmailField(label="E-mail")
    full_name = forms.CharField(label="Full name", max_length=150, required=False)
    role = forms.ChoiceField(choices=[(r.value, r.label) for r in Role if r in CLIENT_ROLES])


class APIKeyForm(forms.Form):
    name = forms.CharField(
        label="Name", max_length=100, help_text="Where the key is used, e.g. “Shopify sync” or “ERP”."
    )
    scope = forms.ChoiceField(choices=KeyScope.choices, initial=KeyScope.READ_WRITE)


class ClientSearchForm(forms.Form):
    q = forms.CharField(label="Search", required=False)
    active = forms.ChoiceField(
        label="Status", required=False, choices=[("", "All"), ("true", "Active"), ("false", "Inactive")]
    )
