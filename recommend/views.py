"""REST endpoints of sessions and playlists (docs/api.md). Thin: validate input, check the token, call a service
or selector, serialise. Sessions are anonymous (no Django auth, so no CSRF); the session token is the credential."""

from __future__ import annotations

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.authentication import SessionAuthentication, TokenAuthentication
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import error_responses
from core.errors import TooLarge
from recommend import conf
from recommend.export import FORMATS, export_playlist, filename
from recommend.filters import PlaylistFilters
from recommend.permissions import TOKEN_HEADER, require_session_token
from recommend.selectors import get_playlist, get_session, session_playlists, with_items
from recommend.serializers import (
    FeedbackInputSerializer,
    FeedbackOutputSerializer,
    FromImageInputSerializer,
    FromImageOutputSerializer,
    PlaylistDetailOutputSerializer,
    PlaylistExportInputSerializer,
    PushInputSerializer,
    PushOutputSerializer,
    SessionDetailOutputSerializer,
    SteerInputSerializer,
    SteerOutputSerializer,
)
from recommend.services.feedback import record_feedback
from recommend.services.playlist import playlist_from_image
from recommend.services.push import configured_client, push_playlist
from recommend.services.steering import steer_session
from recommend.throttles import SessionThrottle

FORM_OVERHEAD_BYTES = 64 * 1024  # multipart boundaries and the small form fields beside the image


class FromImageUploadSchema(FromImageInputSerializer):
    """Schema only: the multipart form (an image file)."""

    image_embedding = None


class FromImageJsonSchema(FromImageInputSerializer):
    """Schema only: the JSON body (an embedding)."""

    image = None




TOKEN_PARAM = OpenApiParameter(TOKEN_HEADER, str, OpenApiParameter.HEADER, required=True,
                               description="The token returned when the session was created.")


def check_upload_size(request: Request) -> None:
    """413 before reading a body that cannot hold an acceptable image (Content-Length is cheap to check)."""
    limit = int(conf.get("IMAGE_MAX_BYTES"))
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > limit + FORM_OVERHEAD_BYTES:
        raise too_large(limit)


def too_large(limit: int) -> TooLarge:
    return TooLarge(f"The upload is larger than {limit} bytes.", code="payload_too_large", details={"max_bytes": limit})


class AnonymousApi(APIView):
    authentication_classes = ()
    permission_classes = (AllowAny,)


class PlaylistFromImageApi(AnonymousApi):
    throttle_classes = (SessionThrottle,)
    throttle_scope = "from_image"
    parser_classes = (MultiPartParser, FormParser, JSONParser)

    @extend_schema(
        operation_id="playlist_from_image",
        summary="Start a session: a diversified playlist from an image",
        request={"multipart/form-data": FromImageUploadSchema, "application/json": FromImageJsonSchema},
        responses={201: FromImageOutputSerializer, **error_responses(400, 413, 415, 429, 503)},
        examples=[OpenApiExample("embedding", value={"image_embedding": [0.1, 0.2], "tags": ["jazz"], "size": 10},
                                 request_only=True, media_type="application/json")],
    )
    def post(self, request: Request) -> Response:
        check_upload_size(request)
        serializer = FromImageInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        image_bytes = None
        if "image" in data:
            upload = data["image"]
            limit = int(conf.get("IMAGE_MAX_BYTES"))
            if upload.size > limit:
                raise too_large(limit)
            image_bytes = upload.read()
        created = playlist_from_image(
            image=image_bytes,
            image_embedding=data.get("image_embedding"),
            tags=data["tags"],
            size=data["size"],
            seeds=data["seeds"],
            guidance=data["guidance"],
            merge=data["merge"],
            filters=PlaylistFilters.from_dict(data["filters"]) if "filters" in data else None,
        )
        body = {"session": {"id": created.session.pk, "token": created.token},
                "playlist": with_items(created.playlist)}
        return Response(FromImageOutputSerializer(body).data, status=status.HTTP_201_CREATED)


class SessionSteerApi(AnonymousApi):
    throttle_classes = (SessionThrottle,)
    throttle_scope = "steer"
    parser_classes = (JSONParser,)

    @extend_schema(
        operation_id="session_steer",
        summary="Re-steer a session with tags: the next playlist version",
        parameters=[TOKEN_PARAM],
        request=SteerInputSerializer,
        responses={201: SteerOutputSerializer, **error_responses(400, 403, 404, 409, 429, 503)},
    )
    def post(self, request: Request, session_id: str) -> Response:
        session = get_session(session_id)
        require_session_token(request, session)
        serializer = SteerInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        filters = PlaylistFilters.from_dict(data["filters"]) if "filters" in data else None
        playlist = steer_session(session, data["tags"], data["avoid"], filters=filters)
        body = {"session": {"id": session.pk}, "playlist": with_items(playlist)}
        return Response(SteerOutputSerializer(body).data, status=status.HTTP_201_CREATED)


class SessionFeedbackApi(AnonymousApi):
    throttle_classes = (SessionThrottle,)
    throttle_scope = "feedback"
    parser_classes = (JSONParser,)

    @extend_schema(
        operation_id="session_feedback",
        summary="Like / skip served tracks (used at the next steer)",
        parameters=[TOKEN_PARAM],
        request=FeedbackInputSerializer,
        responses={200: FeedbackOutputSerializer, **error_responses(400, 403, 404, 429)},
    )
    def post(self, request: Request, session_id: str) -> Response:
        session = get_session(session_id)
        require_session_token(request, session)
        serializer = FeedbackInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        session = record_feedback(session, serializer.validated_data["liked"], serializer.validated_data["skipped"])
        return Response(FeedbackOutputSerializer(session).data)


class SessionDetailApi(AnonymousApi):
    @extend_schema(
        operation_id="session_detail",
        summary="A session: steering state, history of steering events and playlist versions",
        parameters=[TOKEN_PARAM],
        responses={200: SessionDetailOutputSerializer, **error_responses(403, 404)},
    )
    def get(self, request: Request, session_id: str) -> Response:
        session = get_session(session_id)
        require_session_token(request, session)
        body = {
            "id": session.pk,
            "created_at": session.created_at,
            "params": session.params,
            "tags": session.tags,
            "avoid": session.avoid,
            "liked": session.liked,
            "skipped": session.skipped,
            "events": session.events.all(),
            "playlists": session_playlists(session),
        }
        return Response(SessionDetailOutputSerializer(body).data)


class PlaylistDetailApi(AnonymousApi):
    @extend_schema(
        operation_id="playlist_detail",
        summary="One playlist version (token of its session required)",
        parameters=[TOKEN_PARAM],
        responses={200: PlaylistDetailOutputSerializer, **error_responses(403, 404)},
    )
    def get(self, request: Request, playlist_id: int) -> Response:
        playlist = get_playlist(playlist_id)
        require_session_token(request, playlist.session)
        return Response(PlaylistDetailOutputSerializer(playlist).data)


class PlaylistPushApi(APIView):
    """Staff (token or admin login) may push any playlist; a listener may push the playlists of their session."""

    authentication_classes = (TokenAuthentication, SessionAuthentication)
    permission_classes = (AllowAny,)
    parser_classes = (JSONParser,)

    @extend_schema(
        operation_id="playlist_push",
        summary="Create or update the playlist on the configured Subsonic server (songs that came from it)",
        parameters=[OpenApiParameter(TOKEN_HEADER, str, OpenApiParameter.HEADER, required=False,
                                     description="The session's token (not needed for staff users).")],
        request=PushInputSerializer,
        responses={200: PushOutputSerializer, **error_responses(400, 403, 404, 409, 502, 503)},
    )
    def post(self, request: Request, playlist_id: int) -> Response:
        playlist = get_playlist(playlist_id)
        if not (request.user and request.user.is_staff):
            require_session_token(request, playlist.session)
        serializer = PushInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        from django.conf import settings

        result = push_playlist(playlist, configured_client(), name=serializer.validated_data.get("name", ""),
                               source=settings.SUBSONIC_SOURCE)
        return Response(PushOutputSerializer(result.as_dict()).data)


class JsonErrorsNegotiation(DefaultContentNegotiation):
    """``?format=`` names the export format here, not a DRF renderer: errors are JSON whatever it says."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class PlaylistExportApi(AnonymousApi):
    content_negotiation_class = JsonErrorsNegotiation

    @extend_schema(
        operation_id="playlist_export",
        summary="One playlist version as a file for music players: JSPF, XSPF or M3U8 (token of its session required)",
        description="A download (`Content-Disposition: attachment`) with each track's title, artist, tags and link "
                    "(the catalog's `url`). JSPF is XSPF's JSON form as ListenBrainz reads it; M3U8 has one "
                    "`#EXTINF:seconds,Artist - Title` line before each link and leaves out tracks without one.",
        parameters=[
            TOKEN_PARAM,
            OpenApiParameter("format", str, OpenApiParameter.QUERY, required=True, enum=list(FORMATS),
                             description="jspf, xspf or m3u8"),
        ],
        responses={
            # JSPF is JSON (an object, as clients parse it); XSPF and M3U8 are text.
            **{(200, f.media_type): OpenApiResponse(
                OpenApiTypes.OBJECT if f.media_type.endswith("+json") else OpenApiTypes.STR,
                description=f"{f.name.upper()} file") for f in FORMATS.values()},
            **error_responses(400, 403, 404),
        },
    )
    def get(self, request: Request, playlist_id: int) -> HttpResponse:
        playlist = get_playlist(playlist_id)
        require_session_token(request, playlist.session)
        serializer = PlaylistExportInputSerializer(data=request.query_params)
        serializer.is_valid(raise_exception=True)
        body, fmt = export_playlist(playlist, serializer.validated_data["format"])
        response = HttpResponse(body, content_type=f"{fmt.media_type}; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{filename(playlist, fmt)}"'
        return response
