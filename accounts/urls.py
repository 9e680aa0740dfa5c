from django.contrib.auth import views as auth_views
from django.urls import path

from . import views
from .forms import EmailAuthenticationForm

urlpatterns = [
    path("", views.home, name="home"),
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(
            authentication_form=EmailAuthenticationForm, redirect_authenticated_user=True
        ),
        name="login",
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/password-reset/", auth_views.PasswordResetView.as_view(), name="password_reset"),
    path(
        "accounts/password-reset/sent/",
        auth_views.PasswordResetDoneView.as_view(),
        name="password_reset_done",
    ),
    path(
        "accounts/reset/<uidb64>/<token>/",
        auth_views.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path(
        "accounts/reset/done/", auth_views.PasswordResetCompleteView.as_view(), name="password_reset_complete"
    ),
    path("console/clients/", views.console_clients, name="console-clients"),
    path("console/clients/<int:pk>/", views.console_client, name="console-client"),
    path("console/warehouses/", views.console_warehouses, name="console-warehouses"),
    path("console/audit/", views.console_audit, name="console-audit"),
    path("portal/", views.portal_home, name="portal-home"),
    path("portal/users/", views.portal_users, name="portal-users"),
    path(
        "portal/users/<int:pk>/<str:active>/",
        views.portal_user_set_active,
        name="portal-user-set-active",
    ),
    path("portal/api-keys/", views.portal_api_keys, name="portal-api-keys"),
    path("portal/api-keys/<int:pk>/revoke/", views.portal_api_key_revoke, name="portal-api-key-revoke"),
    path("portal/audit/", views.portal_audit, name="portal-audit"),
]
