"""Who may do what: tills push and pull only their own journal; HQ reads; nobody else."""

from __future__ import annotations

from syncserver.settings import utc_now
from syncserver.storage.database import Database
from syncserver.storage.terminals import revoke_terminal
from tests.server.helpers import PULL, PUSH, api, bearer, prepare, push
from tests.server.journal import JournalWriter, card


def _error(reply: object) -> tuple[int, str]:
    status = reply.status_code  # type: ignore[attr-defined]
    return status, reply.json()["error"]["code"]  # type: ignore[attr-defined]


def test_tokens_are_checked_on_every_endpoint(database: Database) -> None:
    server = prepare(database)
    (t1, token1), (t2, token2) = server.terminal(), server.terminal()
    revoked_id, revoked_token = server.terminal()
    with database.write() as conn:
        revoke_terminal(conn, revoked_id, utc_now())
    mine, theirs = JournalWriter(t1), JournalWriter(t2)
    mine.sale(None)
    theirs.sale(None)
    body = {"terminal_id": t1, "entries": mine.records}
    hq = bearer(server.admin_token)
    with api(database) as client:
        anonymous = client.post(PUSH, json=body)
        assert _error(anonymous) == (401, "unauthorized")
        assert anonymous.headers["WWW-Authenticate"] == "Bearer"
        assert _error(client.post(PUSH, json=body, headers=bearer("nope"))) == (401, "unauthorized")
        assert _error(client.get(PULL, headers=bearer("nope"))) == (401, "unauthorized")
        assert _error(client.post(PUSH, json=body, headers={"Authorization": "Basic eDp5"})) == (
            401,
            "unauthorized",
        )
        # A till cannot push as another till, nor slip another till's entries in.
        assert _error(push(client, token2, t1, mine.records)) == (403, "forbidden")
        assert _error(push(client, token1, t1, theirs.records)) == (403, "forbidden")
        # Revoked: refused for push and pull.
        assert _error(push(client, revoked_token, revoked_id, [])) == (401, "unauthorized")
        assert _error(client.get(PULL, headers=bearer(revoked_token))) == (401, "unauthorized")
        # Tills cannot read HQ data; HQ tokens cannot sync.
        members = client.get("/api/v1/members", params={"card": card(1)}, headers=bearer(token1))
        assert _error(members) == (403, "forbidden")
        assert _error(client.get("/api/v1/exceptions", headers=bearer(token1))) == (
            403,
            "forbidden",
        )
        assert _error(client.post(PUSH, json=body, headers=hq)) == (403, "forbidden")
        assert _error(client.get(PULL, headers=hq)) == (403, "forbidden")
        # And the rightful owners get through.
        assert push(client, token1, t1, mine.records).status_code == 200
        found = client.get("/api/v1/members", params={"card": card(1)}, headers=hq)
        assert found.status_code == 200
        assert [m["member_id"] for m in found.json()["items"]] == ["M0000000001"]
        nobody = client.get("/api/v1/members", params={"card": "1"}, headers=hq)
        assert nobody.json() == {"items": [], "next_cursor": None}
        assert _error(client.get("/api/v1/cards/1", headers=hq)) == (404, "not_found")
        assert client.get("/api/v1/exceptions", headers=hq).json() == {
            "items": [],
            "next_cursor": None,
        }
        assert _error(client.get("/api/v1/nowhere")) == (404, "not_found")
        assert client.get("/healthz").json()["status"] == "ok"
