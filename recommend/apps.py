from django.apps import AppConfig


class RecommendConfig(AppConfig):
    name = "recommend"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from recommend import conf

        conf.check_environment()  # a malformed RECOMMEND_* / IMAGE_* variable stops the boot, naming itself
