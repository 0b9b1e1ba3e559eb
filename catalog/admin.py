"""Django admin for catalog admins: spaces, tracks (search + filters), an "Import tracks" page and an "Import from a
Subsonic server" page (the service behind ``manage.py ingest_subsonic``).

The import page runs the same ingest service as ``manage.py ingest_tracks`` on an uploaded file and shows its
report: counts, and every bad row with its line/row number and reason (nothing is written when any row is bad,
unless "skip invalid rows" is ticked).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Exists, OuterRef
from django.template.response import TemplateResponse
from django.urls import path, reverse

from catalog.ingest.files import FORMATS
from catalog.models import EmbeddingSpace, Track, TrackEmbedding
from catalog.services.ingest import IngestError, IngestRejected, ingest_file
from catalog.services.subsonic import EMBED_MODES, ingest_subsonic, pick_encoder
from catalog.subsonic import AUTH_MODES, SubsonicClient, SubsonicError
from catalog.vector_index import has_index

FILTER_CHOICES = 30  # the most frequent artists/tags offered as filter links (search covers the rest)


@admin.register(EmbeddingSpace)
class EmbeddingSpaceAdmin(admin.ModelAdmin):
    list_display = ["name", "dimension", "encoder", "version", "is_proxy", "vectors", "indexed", "created_at"]
    search_fields = ["name", "encoder"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(vector_count=Count("embeddings"))

    def get_readonly_fields(self, request, obj=None):
        return ["dimension", "created_at"] if obj else ["created_at"]  # vectors exist at this dimension

    @admin.display(description="vectors", ordering="vector_count")
    def vectors(self, obj):
        return obj.vector_count

    @admin.display(description="HNSW index", boolean=True)
    def indexed(self, obj):
        return has_index(obj)


class ArtistFilter(admin.SimpleListFilter):
    title = "artist"
    parameter_name = "artist"

    def lookups(self, request, model_admin):
        top = (Track.objects.exclude(artist="").values("artist").annotate(n=Count("id")).order_by("-n", "artist"))
        return [(row["artist"], f"{row['artist']} ({row['n']})") for row in top[:FILTER_CHOICES]]

    def queryset(self, request, queryset):
        return queryset.filter(artist=self.value()) if self.value() else queryset


class TagFilter(admin.SimpleListFilter):
    title = "tag"
    parameter_name = "tag"

    def lookups(self, request, model_admin):
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT tag, count(*) FROM catalog_track, unnest(tags) AS tag GROUP BY tag ORDER BY 2 DESC, 1 LIMIT %s",
                [FILTER_CHOICES],
            )
            return [(tag, f"{tag} ({n})") for tag, n in cursor.fetchall()]

    def queryset(self, request, queryset):
        return queryset.filter(tags__contains=[self.value()]) if self.value() else queryset


class SpaceFilter(admin.SimpleListFilter):
    title = "embedding space"
    parameter_name = "space"

    def lookups(self, request, model_admin):
        return [(name, name) for name in EmbeddingSpace.objects.values_list("name", flat=True)]

    def queryset(self, request, queryset):
        if not self.value():
            return queryset
        return queryset.filter(
            Exists(TrackEmbedding.objects.filter(track=OuterRef("pk"), space__name=self.value()))
        )


class ImportForm(forms.Form):
    file = forms.FileField(help_text="CSV, JSONL (.jsonl/.ndjson) or Parquet; one track per row (see docs/catalog.md). "
                                     "Rows without a vector are embedded from their text (title, artist, tags, "
                                     "description) by the space's text encoder.")
    embeddings = forms.FileField(required=False, help_text="Optional sidecar .npy: row i is the i-th record's vector")
    space = forms.CharField(max_length=100, help_text="Embedding space to import into (the served one by default)")
    dimension = forms.IntegerField(required=False, min_value=1, help_text="Only to create a new space")
    source = forms.CharField(max_length=50, initial="file", help_text="For rows without a source column")
    skip_invalid = forms.BooleanField(required=False, label="Skip invalid rows (import the good ones)")

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if Path(upload.name).suffix.lower() not in FORMATS:
            raise forms.ValidationError("Use a .csv, .jsonl, .ndjson or .parquet file.")
        return upload


class SubsonicForm(forms.Form):
    url = forms.URLField(label="Server URL", assume_scheme="http",
                         help_text="e.g. http://localhost:4533 (Navidrome, Gonic, Supysonic, ...)")
    user = forms.CharField(max_length=200)
    password = forms.CharField(widget=forms.PasswordInput, help_text="Used for this import only; not stored.")
    auth = forms.ChoiceField(choices=[(m, m) for m in AUTH_MODES], initial="auto",
                             help_text="auto: salted token (API 1.13+), else the hex-encoded password")
    embed = forms.ChoiceField(choices=[(m, m) for m in EMBED_MODES], initial="auto",
                              help_text="auto: audio through MUSIC_ENCODER when it has weights, else metadata text")


def _save(upload, directory: Path, name: str) -> Path:
    target = directory / name
    with open(target, "wb") as fh:
        for chunk in upload.chunks():
            fh.write(chunk)
    return target


@admin.register(Track)
class TrackAdmin(admin.ModelAdmin):
    list_display = ["external_id", "title", "artist", "source", "tag_list", "duration_s", "updated_at"]
    list_filter = ["source", ArtistFilter, TagFilter, SpaceFilter]
    search_fields = ["title", "artist", "external_id"]
    readonly_fields = ["created_at", "updated_at", "spaces"]
    list_per_page = 50
    show_full_result_count = False  # no COUNT(*) over a large catalog on every page
    change_list_template = "admin/catalog/track/change_list.html"

    @admin.display(description="tags")
    def tag_list(self, obj):
        return ", ".join(obj.tags[:6]) + (" …" if len(obj.tags) > 6 else "")

    @admin.display(description="embedding spaces")
    def spaces(self, obj):
        return ", ".join(obj.embeddings.values_list("space__name", flat=True).order_by("space__name")) or "—"

    def get_urls(self):
        view = self.admin_site.admin_view(self.import_view)
        subsonic = self.admin_site.admin_view(self.subsonic_view)
        return [path("import/", view, name="catalog_track_import"),
                path("import-subsonic/", subsonic, name="catalog_track_import_subsonic"), *super().get_urls()]

    def subsonic_view(self, request):
        """Walk a Subsonic-API server into the catalog in this request (a large library: use the command)."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        result, error = None, None
        form = SubsonicForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                client = SubsonicClient(data["url"], data["user"], data["password"], auth=data["auth"])
                client.ping()
                encoder, audio, why = pick_encoder(data["embed"])
                result = ingest_subsonic(client, encoder=encoder, audio=audio)
                self.message_user(request, f"{result.summary()}; embedded {result.embedding}: {why}",
                                  messages.SUCCESS)
            except (SubsonicError, IngestError) as exc:
                error = str(exc)
                self.message_user(request, error, messages.ERROR)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Import from a Subsonic server",
            "form": form,
            "result": result,
            "error": error,
            "changelist_url": reverse("admin:catalog_track_changelist"),
        }
        return TemplateResponse(request, "admin/catalog/track/subsonic.html", context)

    def import_view(self, request):
        if not self.has_add_permission(request):
            raise PermissionDenied
        report, rejected, error = None, False, None
        form = ImportForm(request.POST or None, request.FILES or None, initial={"space": settings.CATALOG_SPACE})
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            with tempfile.TemporaryDirectory(prefix="catalog-import-") as tmp:
                upload = _save(data["file"], Path(tmp), "upload" + Path(data["file"].name).suffix.lower())
                sidecar = _save(data["embeddings"], Path(tmp), "vectors.npy") if data["embeddings"] else None
                try:
                    report = ingest_file(
                        upload, space=data["space"], source=data["source"], sidecar=sidecar,
                        dimension=data["dimension"], encoder="admin upload", skip_invalid=data["skip_invalid"],
                    )
                    self.message_user(request, f"Imported {data['file'].name}: {report.summary()}", messages.SUCCESS)
                except IngestRejected as exc:
                    report, rejected = exc.report, True
                    self.message_user(request, f"{data['file'].name}: {exc}", messages.ERROR)
                except IngestError as exc:
                    error = str(exc)
                    self.message_user(request, f"{data['file'].name}: {exc}", messages.ERROR)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Import tracks",
            "form": form,
            "report": report,
            "rejected": rejected,
            "error": error,
            "changelist_url": reverse("admin:catalog_track_changelist"),
        }
        return TemplateResponse(request, "admin/catalog/track/import.html", context)
