from django.apps import AppConfig


class WebConfig(AppConfig):
    """The listener's page at ``/`` (a template and plain JS calling the public REST API) and the self-hosted API
    docs' templates. No models, no services: it reads and writes nothing but through ``/api/``."""

    name = "web"
    default_auto_field = "django.db.models.BigAutoField"
