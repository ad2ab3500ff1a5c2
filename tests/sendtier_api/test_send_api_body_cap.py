"""The send API reads a body only up to its cap: a huge chunked upload is refused early."""

from __future__ import annotations

from collections.abc import AsyncIterator

from sendtier_api_helpers import api_settings, auth, serving

from sendtier.api.routes import MAX_BODY_BYTES

CHUNK = b" " * (1024 * 1024)


class Upload:
    """A chunked body of `chunks` MiB that counts how much of it the server pulled."""

    def __init__(self, chunks: int) -> None:
        self.chunks = chunks
        self.pulled = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for _ in range(self.chunks):
            self.pulled += 1
            yield CHUNK


async def test_a_chunked_body_over_the_cap_is_refused_without_reading_the_rest(
    sqlite_url: str,
) -> None:
    upload = Upload(64)  # 64 MiB, sixteen times the cap
    async with serving(api_settings(sqlite_url)) as api:
        answer = await api.client.post(
            "/v1/messages/batch",
            content=upload,
            headers={**auth(), "Content-Type": "application/json"},
        )
        published = await api.published()

    assert answer.status_code == 413
    assert answer.json()["limit_bytes"] == MAX_BODY_BYTES
    assert upload.pulled <= MAX_BODY_BYTES // len(CHUNK) + 1  # read up to the cap, no further
    assert published == []
