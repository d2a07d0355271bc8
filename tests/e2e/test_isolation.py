"""The REST isolation matrix: every route that takes an id, called by user B with user A's ids.

Routes are read from the gateway application itself, so a new route with a path parameter fails this test
until it has a case here.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from starlette.routing import Route
from support import DEV_MEDIA, Api

from trove_common.settings import ServiceAuthSettings, StorageSettings
from trove_gateway.app import create_app
from trove_gateway.settings import Settings

NewApi = Callable[..., Awaitable[Api]]


@dataclass(frozen=True, slots=True)
class Victim:
    """User A's ids and data, which user B must never reach."""

    user_id: str
    email: str
    upload_id: str
    media_id: str
    filename: str
    blob_key: str  # the storage key, as it appears in A's signed URLs
    person_id: str  # a person in A's pictures
    face_id: str  # and one of their faces


# (method, path template) -> (the status B gets, the path params filled with A's ids). Blob URLs are
# capabilities: without a matching signature the answer is 403 whoever asks. Admin routes answer a
# non-admin 403 before looking at the id.
CASES: dict[tuple[str, str], tuple[int, Callable[[Victim], dict[str, str]]]] = {
    ("POST", "/api/v1/uploads/{upload_id}/complete"): (404, lambda v: {"upload_id": v.upload_id}),
    ("GET", "/api/v1/media/{media_id}"): (404, lambda v: {"media_id": v.media_id}),
    ("GET", "/api/v1/media/{media_id}/thumbnail"): (404, lambda v: {"media_id": v.media_id}),
    ("GET", "/api/v1/media/{media_id}/frames/{frame}"): (404, lambda v: {"media_id": v.media_id, "frame": "0"}),
    ("GET", "/api/v1/media/{media_id}/content"): (404, lambda v: {"media_id": v.media_id}),
    ("GET", "/api/v1/media/{media_id}/content-url"): (404, lambda v: {"media_id": v.media_id}),
    ("GET", "/api/v1/media/{media_id}/similar"): (404, lambda v: {"media_id": v.media_id}),
    ("DELETE", "/api/v1/media/{media_id}"): (404, lambda v: {"media_id": v.media_id}),
    ("PUT", "/api/v1/admin/users/{user_id}/tier"): (403, lambda v: {"user_id": v.user_id}),
    ("PUT", "/api/v1/admin/users/{user_id}/budget"): (403, lambda v: {"user_id": v.user_id}),
    # A's file has no dead letter; the route refuses B before reading any id.
    ("POST", "/api/v1/jobs/{job_id}/requeue"): (403, lambda v: {"job_id": v.media_id}),
    ("GET", "/api/v1/people/{person_id}"): (404, lambda v: {"person_id": v.person_id}),
    ("PATCH", "/api/v1/people/{person_id}"): (404, lambda v: {"person_id": v.person_id}),
    ("POST", "/api/v1/people/{person_id}/merge"): (404, lambda v: {"person_id": v.person_id}),
    ("POST", "/api/v1/faces/{face_id}/move"): (404, lambda v: {"face_id": v.face_id}),
    ("GET", "/api/v1/faces/{face_id}/crop"): (404, lambda v: {"face_id": v.face_id}),
    ("GET", "/blobs/{key:path}"): (403, lambda v: {"key": v.blob_key}),
    ("PUT", "/blobs/{key:path}"): (403, lambda v: {"key": v.blob_key}),
}
BODIES = {
    "tier": {"tier": "premium"},
    "budget": {"amount": 0},
    "{person_id}": {"name": "Bob's now"},
    "merge": {"other_person_id": "00000000-0000-4000-8000-000000000000"},
    "move": {},
}


def _routes_with_ids() -> set[tuple[str, str]]:
    app = create_app(
        Settings(storage=StorageSettings(signing_key="x" * 32), service_auth=ServiceAuthSettings(token="t" * 32))
    )
    found = set()
    for route in app.routes:
        if isinstance(route, Route) and route.param_convertors:
            found.update((method, route.path) for method in route.methods or () if method != "HEAD")
    return found


def _fill(template: str, params: dict[str, str]) -> str:
    path = template
    for name, value in params.items():
        path = path.replace(f"{{{name}:path}}", value).replace(f"{{{name}}}", value)
    return path


async def _victim(api: Api) -> Victim:
    data = (DEV_MEDIA / "china.jpg").read_bytes()
    created = await api.create_upload("china-private.jpg", "image/jpeg", len(data))
    ticket = created.json()
    assert (await api.put(ticket, data)).status_code == 200
    done = await api.request("POST", f"/api/v1/uploads/{ticket['upload_id']}/complete")
    media_id = done.json()["media_id"]
    assert (await api.wait_done(media_id))["status"] == "completed"
    me = (await api.request("GET", "/api/v1/me")).json()
    signed = (await api.request("GET", f"/api/v1/media/{media_id}/content-url")).json()["url"]
    # The same portrait twice: two faces, one person.
    portrait = (DEV_MEDIA / "grace_hopper.jpg").read_bytes()
    for name in ("grace.jpg", "grace-again.jpg"):
        assert (await api.wait_done(await api.upload(portrait, name, "image/jpeg")))["status"] == "completed"
    (person,) = (await api.request("GET", "/api/v1/people")).json()["items"]
    detail = (await api.request("GET", f"/api/v1/people/{person['person_id']}")).json()
    return Victim(
        user_id=me["user_id"],
        email=me["email"],
        upload_id=ticket["upload_id"],
        media_id=media_id,
        filename="china-private.jpg",
        blob_key=urlsplit(signed).path.removeprefix("/blobs/"),
        person_id=person["person_id"],
        face_id=detail["media"][0]["faces"][0]["face_id"],
    )


def test_every_route_with_a_path_parameter_has_a_case() -> None:
    assert _routes_with_ids() == set(CASES)


async def test_user_b_with_user_a_ids_gets_nothing(new_api: NewApi) -> None:
    alice, bob = await new_api(), await new_api()
    victim = await _victim(alice)
    secrets = (
        victim.media_id,
        victim.upload_id,
        victim.filename,
        victim.email,
        victim.user_id,
        victim.person_id,
        victim.face_id,
    )
    # Bob's own valid signature, replayed on Alice's key, must not open it either.
    bob_signed = await bob.create_upload("mine.jpg", "image/jpeg", 100)
    bob_query = urlsplit(bob_signed.json()["upload_url"]).query
    for (method, template), (status, params) in sorted(CASES.items()):
        path = _fill(template, params(victim))
        body = BODIES.get(template.rsplit("/", 1)[-1])
        queries = [bob_query, ""] if template.startswith("/blobs/") else [""]
        for query in queries:
            response = await bob.request(method, f"{path}?{query}" if query else path, json=body)
            assert response.status_code == status, (method, template, response.text)
            assert not any(secret in response.text for secret in secrets), (method, template, response.text)
            assert response.headers.get("content-type", "").startswith("application/json"), (method, template)

    # Alice lost nothing, and her tier is untouched.
    assert (await alice.request("GET", f"/api/v1/media/{victim.media_id}")).status_code == 200
    content = await alice.request("GET", f"/api/v1/media/{victim.media_id}/content")
    assert content.content == (DEV_MEDIA / "china.jpg").read_bytes()
    assert (await alice.request("GET", "/api/v1/me")).json()["tier"] == "free"
    assert (await alice.request("GET", "/api/v1/billing/usage")).json()["uploads"] == 3
    person = (await alice.request("GET", f"/api/v1/people/{victim.person_id}")).json()
    assert person["name"] == "" and person["face_count"] == 2
