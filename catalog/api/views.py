"""``/api/tracks/``: bulk upsert and listing for catalog admins (staff, token or session auth).

Thin views: the serializers check the request's shape, :func:`catalog.services.ingest.ingest_payload` does the
work (the same rules as file imports), :func:`catalog.selectors.track_list` reads.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.authentication import SessionAuthentication, TokenAuthentication
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import PageNumberPagination
from rest_framework.permissions import IsAdminUser
from rest_framework.response import Response
from rest_framework.views import APIView

from catalog.api.serializers import (
    CatalogBulkUpsertSerializer,
    CatalogIngestReportSerializer,
    CatalogTrackFilterSerializer,
    CatalogTrackPageSerializer,
    CatalogTrackSerializer,
)
from catalog.selectors import track_list
from catalog.services.ingest import ingest_payload
from core.api import error_responses
from core.errors import InvalidInput


class TrackPagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500


def _row_errors(errors: list | dict) -> list[dict]:
    """DRF's per-item errors of ``tracks`` (a list, or ``{index: errors}`` in newer DRF) as the report's rows."""
    rows = []
    items = sorted(errors.items()) if isinstance(errors, dict) else enumerate(errors)
    for index, error in items:
        if isinstance(index, int) and isinstance(error, dict) and error:
            reason = "; ".join(f"{field}: {' '.join(str(m) for m in messages)}" for field, messages in error.items())
            rows.append({"row": index, "external_id": None, "reason": reason})
    return rows


class TrackListCreateApi(APIView):
    authentication_classes = [TokenAuthentication, SessionAuthentication]
    permission_classes = [IsAdminUser]

    @extend_schema(
        parameters=[OpenApiParameter(name, str, description=desc) for name, desc in [
            ("search", "substring of title, artist or external id"), ("artist", "exact artist (case-insensitive)"),
            ("tag", "one of the track's tags"), ("source", "e.g. musiccaps, jamendo"),
            ("space", "tracks with a vector in this embedding space"),
        ]] + [OpenApiParameter("page", int), OpenApiParameter("page_size", int, description="at most 500")],
        responses={200: CatalogTrackPageSerializer, **error_responses(400, 401, 403, 404)},  # 404: page past the end
    )
    def get(self, request):
        filters = CatalogTrackFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        paginator = TrackPagination()
        page = paginator.paginate_queryset(track_list(**filters.validated_data), request, view=self)
        return paginator.get_paginated_response(CatalogTrackSerializer(page, many=True).data)

    @extend_schema(
        request=CatalogBulkUpsertSerializer,
        responses={201: CatalogIngestReportSerializer, 200: CatalogIngestReportSerializer,
                   **error_responses(400, 401, 403)},
        description="Upsert tracks by (source, external_id) with their vectors in `space`. All or nothing: any bad "
        "row rejects the batch (400, code `invalid_rows`, every bad row in details.rows). 201 when tracks were "
        "created, else 200.",
    )
    def post(self, request):
        serializer = CatalogBulkUpsertSerializer(data=request.data)
        if not serializer.is_valid():
            errors = serializer.errors
            if isinstance(errors.get("tracks"), list | dict) and set(errors) == {"tracks"}:
                rows = _row_errors(errors["tracks"])
                if rows:
                    raise InvalidInput(f"{len(rows)} invalid row(s): nothing was imported", code="invalid_rows",
                                       details={"rejected": len(rows), "rows": rows})
            raise ValidationError(errors)
        data = serializer.validated_data
        report = ingest_payload(data["space"], [dict(track) for track in data["tracks"]])  # IngestError: 400
        code = status.HTTP_201_CREATED if report.created else status.HTTP_200_OK
        return Response(CatalogIngestReportSerializer(report).data, status=code)
