"""The content endpoints: AR media and shipping documents by the CID the chain names, and their upload.

`GET /content/{cid}` serves the bytes as a gateway would, verified against the CID first: a CID never changes
its bytes, so answers are cacheable for a year and immutable, and `If-None-Match` with the CID is a 304 without
reading anything. Ranges (`bytes=a-b`, `bytes=a-`, `bytes=-n`) let AR viewers seek in a video. Bytes that do not
hash to the CID are refused with 502 `ContentMismatch`, never served. `POST /v1/content` stores a brand
account's upload and answers its CID, to be put on chain (a SKU's content CID, a shipment's documents).

The store is the application's `app.state.content_store` (a `ledger_api.content.ContentStore`).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from ledger_api.auth import writing_caller
from ledger_api.caller import Caller
from ledger_api.content import (ContentMismatch, ContentNotFound, ContentStore, ContentStoreUnavailable, InvalidCid,
                                StoredContent, parse_cid, valid_content_type)
from ledger_api.errors import ApiError
from ledger_api.models import ErrorBody
from ledger_api.vocabulary import BRAND_ORG

log = logging.getLogger("ledger_api.content")

MAX_UPLOAD_BYTES = 200 * 1024 * 1024  # a few minutes of AR video; a shipping document is far smaller
IMMUTABLE = "public, max-age=31536000, immutable"
SINGLE_RANGE = re.compile(r"^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$", re.IGNORECASE)

router = APIRouter(tags=["content"])


def error_responses(*statuses: int) -> dict:
    return {status: {"model": ErrorBody} for status in (*statuses, 502, 503)}


class UploadedContent(BaseModel):
    cid: str = Field(description="CIDv1 (base32) of the bytes, as `ipfs add --cid-version=1` gives it",
                     examples=["bafkreifjjcie6lypi6ny7amxnfftagclbuxndqonfipmb64f2km2devei4"])
    size: int = Field(description="bytes stored")
    content_type: str = Field(description="the media type the content is served with")


def content_store(request: Request) -> ContentStore:
    return request.app.state.content_store


Store = Annotated[ContentStore, Depends(content_store)]


def content_uploader(caller: Caller = Depends(writing_caller)) -> Caller:
    """A caller who may upload content: a signed-in, writing account of the brand organisation."""
    if caller.org != BRAND_ORG:
        raise ApiError(403, "BrandAccountRequired", {"account": caller.address,
                                                     "problem": "only the brand's accounts upload content"})
    return caller


ContentUploader = Annotated[Caller, Depends(content_uploader)]


def store_refusal(exc: Exception) -> ApiError:
    """The API's answer to a store error; anything else is not the store's to explain."""
    if isinstance(exc, InvalidCid):
        return ApiError(400, "InvalidCid", {"cid": exc.text, "problem": exc.problem})
    if isinstance(exc, ContentNotFound):
        return ApiError(404, "ContentNotFound", {"cid": exc.cid})
    if isinstance(exc, ContentMismatch):
        # Tampering or corruption in the store: an operator must look, the caller can only retry later.
        log.error("content refused: %s", exc, extra={"fields": {"cid": exc.expected, "actual": exc.actual}})
        return ApiError(502, "ContentMismatch", {"cid": exc.expected,
                                                 "problem": "the stored bytes do not match the CID; not served"})
    if isinstance(exc, ContentStoreUnavailable):
        log.warning("content store unavailable: %s", exc)
        return ApiError(503, "ContentStoreUnavailable", {"reason": "the content store did not answer"})
    raise exc


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The one range `header` asks for, as (start, stop) with stop exclusive; None for the whole content.

    A header that is not a single byte range (several ranges, another unit, nonsense) is ignored, as RFC 9110
    allows: the answer is then the full 200. A well-formed range outside the content raises `ValueError` (416).
    """
    match = SINGLE_RANGE.match(header or "")
    if match is None:
        return None
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:  # bytes=-n: the last n bytes
        suffix = int(last)
        if suffix == 0 or size == 0:
            raise ValueError("empty suffix range")
        return max(size - suffix, 0), size
    start = int(first)
    stop = size if not last else int(last) + 1
    if last and stop <= start:
        return None  # bytes=5-3 is not a valid range: ignored
    if start >= size:
        raise ValueError("range starts past the end")
    return start, min(stop, size)


def matches_etag(header: str | None, etag: str) -> bool:
    if not header:
        return False
    tags = [tag.strip() for tag in header.split(",")]
    return "*" in tags or etag in tags or f"W/{etag}" in tags


def content_headers(content: StoredContent) -> dict[str, str]:
    return {"ETag": f'"{content.cid}"', "Cache-Control": IMMUTABLE, "Accept-Ranges": "bytes"}


BYTES = {"*/*": {"schema": {"type": "string", "format": "binary"}}}
CONTENT_RESPONSES = {**error_responses(400, 404),
                     200: {"content": BYTES, "description": "the bytes, with the type they were uploaded with"},
                     206: {"content": BYTES, "description": "the requested byte range"},
                     304: {"description": "the client's copy (If-None-Match) is this content"},
                     416: {"description": "the range lies outside the content"}}


@router.get("/content/{cid}", summary="Content by CID, verified against it", response_class=Response,
            responses=CONTENT_RESPONSES)
def get_content(cid: str, request: Request, store: Store) -> Response:
    return answer_content(cid, request, store, with_body=True)


# HEAD is GET without the body, as HTTP defines it; the schema lists GET alone.
@router.head("/content/{cid}", summary="The headers GET would answer, without the bytes", response_class=Response,
             responses=CONTENT_RESPONSES, include_in_schema=False)
def head_content(cid: str, request: Request, store: Store) -> Response:
    return answer_content(cid, request, store, with_body=False)


def answer_content(cid: str, request: Request, store: Store, with_body: bool) -> Response:
    try:
        content = store.stat(parse_cid(cid))
    except Exception as exc:
        raise store_refusal(exc) from None
    headers = content_headers(content)
    if matches_etag(request.headers.get("if-none-match"), headers["ETag"]):
        return Response(status_code=304, headers=headers)

    # If-Range naming other content (it cannot be an older version of it) asks for the whole content.
    if_range = request.headers.get("if-range")
    wanted = request.headers.get("range") if if_range in (None, headers["ETag"]) else None
    try:
        span = byte_range(wanted, content.size)
    except ValueError:
        return Response(status_code=416, headers={**headers, "Content-Range": f"bytes */{content.size}"})
    status = 200 if span is None else 206
    start, stop = span or (0, content.size)
    if span is not None:
        headers["Content-Range"] = f"bytes {start}-{stop - 1}/{content.size}"
    headers["Content-Length"] = str(stop - start)
    # Stored exactly as uploaded: given as a header, Starlette does not append a charset to text types.
    headers["Content-Type"] = content.content_type

    try:
        # HEAD verifies too, so it answers what GET would (a 502 for tampered content, not a 200).
        blocks = store.open_range(content.cid, start, stop)
    except Exception as exc:
        raise store_refusal(exc) from None
    if not with_body:
        close(blocks)
        return Response(status_code=status, headers=headers)
    return StreamingResponse(blocks, status_code=status, headers=headers)


def close(blocks: Iterator[bytes]) -> None:
    closer = getattr(blocks, "close", None)
    if closer is not None:
        closer()


@router.post("/v1/content", status_code=201, response_model=UploadedContent,
             summary="Upload AR media or a shipping document (brand accounts): answers its CID",
             responses=error_responses(401, 403, 413, 415),
             openapi_extra={"requestBody": {"required": True, "content": {"*/*": {"schema": {
                 "type": "string", "format": "binary"}}}}})
async def upload_content(request: Request, store: Store, caller: ContentUploader) -> Response:
    content_type = request.headers.get("content-type", "").strip()
    if not valid_content_type(content_type):
        raise ApiError(415, "InvalidContentType", {
            "content_type": content_type[:255],
            "problem": "send the media type of the body as Content-Type, e.g. video/mp4 or application/pdf"})
    too_large = ApiError(413, "ContentTooLarge", {"limit": MAX_UPLOAD_BYTES})
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_UPLOAD_BYTES:
        raise too_large
    body = bytearray()
    async for piece in request.stream():
        body += piece
        if len(body) > MAX_UPLOAD_BYTES:
            raise too_large
    data = bytes(body)
    try:
        cid = await run_in_threadpool(store.put, data, content_type)
    except Exception as exc:
        raise store_refusal(exc) from None
    log.info("content stored", extra={"fields": {"cid": cid, "size": len(data), "account": caller.address}})
    answer = UploadedContent(cid=cid, size=len(data), content_type=content_type)
    return Response(answer.model_dump_json(), status_code=201, media_type="application/json",
                    headers={"Location": f"/content/{cid}"})
