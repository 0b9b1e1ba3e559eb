"""Likes and skips: remembered on the session, used at the next steer (liked kept and steered towards, skipped
excluded and steered away from). Only tracks served in this session can be rated: anything else is a 400, so a
client cannot probe or pollute a session with arbitrary catalog ids."""

from __future__ import annotations

from collections.abc import Sequence

from django.db import transaction

from core.errors import InvalidInput
from recommend.models import Session, SteeringEvent
from recommend.selectors import get_session, served_track_ids

MAX_FEEDBACK_IDS = 200


def record_feedback(session: Session, liked: Sequence[int] = (), skipped: Sequence[int] = ()) -> Session:
    """Add liked / skipped track ids (a later opinion overrides an earlier one); returns the updated session."""
    liked = list(dict.fromkeys(int(t) for t in liked))
    skipped = list(dict.fromkeys(int(t) for t in skipped))
    if not liked and not skipped:
        raise InvalidInput("Send at least one track id in `liked` or `skipped`.", code="empty_feedback")
    if len(liked) + len(skipped) > MAX_FEEDBACK_IDS:
        raise InvalidInput(f"At most {MAX_FEEDBACK_IDS} track ids per request.", code="too_many_ids")
    both = sorted(set(liked) & set(skipped))
    if both:
        raise InvalidInput("A track cannot be both liked and skipped.", code="conflicting_feedback",
                           details={"tracks": both})
    with transaction.atomic():
        session = get_session(session.pk, for_update=True)
        unknown = sorted((set(liked) | set(skipped)) - served_track_ids(session))
        if unknown:
            raise InvalidInput("These tracks were not served in this session.", code="track_not_served",
                               details={"tracks": unknown})
        session.liked = [t for t in session.liked if t not in skipped and t not in liked] + liked
        session.skipped = [t for t in session.skipped if t not in liked and t not in skipped] + skipped
        session.save(update_fields=["liked", "skipped", "updated_at"])
        SteeringEvent.objects.create(session=session, kind=SteeringEvent.Kind.FEEDBACK, liked=liked, skipped=skipped)
    return session
