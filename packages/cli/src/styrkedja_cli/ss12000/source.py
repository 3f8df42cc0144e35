"""Reading an SS 12000 source: an API over HTTP (paged lists `{data, pageToken}`, incremental
with `meta.modified.after`, removals from `/deletedEntities?after=`) or a folder of JSON files
of the same shape (`<entity>.json`, or pages `<entity>/*.json`; `deletedEntities.json`).

A page that is not what the specification says is refused with an error naming the entity and
the page: nothing is imported from a source that could not be read whole."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from pydantic import BaseModel, ValidationError

from .models import ENTITIES, OPTIONAL

Progress = Callable[[str, int], None]  # entity, items read so far


class SourceError(Exception):
    """The source could not be read (whole): names the entity and the page."""


def _items(entity: str, page: int, body: Any) -> tuple[list[Any], str | None]:
    if isinstance(body, list):
        raw, token = body, None
    elif isinstance(body, dict) and isinstance(body.get("data"), list):
        raw, token = body["data"], body.get("pageToken")
    else:
        raise SourceError(f"{entity}, page {page}: expected a list or an object with a 'data' list")
    if token is not None and not isinstance(token, str):
        raise SourceError(f"{entity}, page {page}: pageToken must be a string")
    model = ENTITIES[entity]
    items = []
    for n, item in enumerate(raw):
        try:
            items.append(model.model_validate(item))
        except ValidationError as error:
            # only where and which rule: the input may hold personal data (a civic number)
            first = error.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise SourceError(f"{entity}, page {page}, item {n}: {where}: {first['msg']}") from None
    return items, token or None


def _deleted(entity_page: str, body: Any) -> list[str]:
    """deletedEntities: `{data: {organisations: [ids], ...}}` as the specification has it, or the
    object itself, or a flat list `{data: [{id, type}]}`; ids as strings or as `{id}` objects, an
    entity's list as null when empty (servers differ). Persons' ids are skipped: never read."""
    data = body.get("data", body) if isinstance(body, dict) else body
    if isinstance(data, list):
        values_by_kind: dict[str, Any] = {"": data}
    elif isinstance(data, dict):
        values_by_kind = {k: v for k, v in data.items() if k != "pageToken"}
    else:
        raise SourceError(f"deletedEntities, {entity_page}: expected an object of id lists")
    ids = []
    for kind, values in values_by_kind.items():
        if kind == "persons" or values is None:
            continue
        if not isinstance(values, list):
            raise SourceError(f"deletedEntities, {entity_page}: '{kind}' must be a list")
        for value in values:
            if isinstance(value, dict) and str(value.get("type", value.get("entityType", ""))).casefold() in (
                    "persons", "person"):
                continue
            ident = value.get("id") if isinstance(value, dict) else value
            if not isinstance(ident, str) or not ident:
                raise SourceError(f"deletedEntities, {entity_page}: '{kind or 'data'}' holds an id that is not "
                                  "a string")
            ids.append(ident)
    return ids


class HttpSource:
    def __init__(self, url: str, token: str | None = None, *, page_size: int = 100,
                 client: httpx.Client | None = None) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.client = client or httpx.Client(base_url=url.rstrip("/"), headers=headers, timeout=60)
        self.page_size = page_size

    def _get(self, entity: str, page: int, path: str, params: dict[str, Any]) -> Any:
        try:
            response = self.client.get(path, params=params)
        except httpx.HTTPError as error:
            raise SourceError(f"{entity}, page {page}: {type(error).__name__}") from None
        if page == 1 and entity in OPTIONAL and response.status_code in (403, 404):
            return {"data": []}  # held back by the server (e.g. no right to read persons)
        if response.status_code != 200:
            raise SourceError(f"{entity}, page {page}: HTTP {response.status_code}")
        try:
            return response.json()
        except ValueError:
            raise SourceError(f"{entity}, page {page}: not JSON") from None

    def read(self, entity: str, since: datetime | None, progress: Progress) -> list[BaseModel]:
        out: list[BaseModel] = []
        token: str | None = None
        page = 0
        seen_tokens = set()
        while True:
            page += 1
            params: dict[str, Any] = {"limit": self.page_size}
            if token:
                params["pageToken"] = token
            if since is not None:
                params["meta.modified.after"] = since.isoformat()
            items, token = _items(entity, page, self._get(entity, page, f"/{entity}", params))
            out += items
            progress(entity, len(out))
            if not token:
                return out
            if token in seen_tokens:
                raise SourceError(f"{entity}, page {page}: the server repeated a pageToken")
            seen_tokens.add(token)

    def one(self, entity: str, ident: str) -> Any | None:
        """One entity by id (`/<entity>/{id}`), or None when the server does not have it."""
        try:
            response = self.client.get(f"/{entity}/{ident}")
        except httpx.HTTPError as error:
            raise SourceError(f"{entity} {ident}: {type(error).__name__}") from None
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise SourceError(f"{entity} {ident}: HTTP {response.status_code}")
        try:
            items, _ = _items(entity, 1, [response.json()])
        except ValueError:
            raise SourceError(f"{entity} {ident}: not JSON") from None
        return items[0]

    def deleted(self, since: datetime) -> list[str]:
        ids: list[str] = []
        token: str | None = None
        page = 0
        while True:
            page += 1
            params: dict[str, Any] = {"after": since.isoformat(), "limit": self.page_size}
            if token:
                params["pageToken"] = token
            body = self._get("deletedEntities", page, "/deletedEntities", params)
            ids += _deleted(f"page {page}", body)
            next_token = body.get("pageToken") if isinstance(body, dict) else None
            if next_token is not None and not isinstance(next_token, str):
                raise SourceError(f"deletedEntities, page {page}: pageToken must be a string")
            if not next_token:
                return ids
            if next_token == token:
                raise SourceError(f"deletedEntities, page {page}: the server repeated a pageToken")
            token = next_token


class FolderSource:
    def __init__(self, path: Path) -> None:
        if not path.is_dir():
            raise SourceError(f"{path}: not a folder")
        self.path = path

    def _pages(self, entity: str) -> Iterator[tuple[str, Any]]:
        single = self.path / f"{entity}.json"
        files = [single] if single.exists() else sorted((self.path / entity).glob("*.json"))
        for file in files:
            try:
                yield file.name, json.loads(file.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                raise SourceError(f"{entity}, page {file.name}: not readable JSON") from None

    def read(self, entity: str, since: datetime | None, progress: Progress) -> list[BaseModel]:
        out: list[BaseModel] = []
        for n, (_name, body) in enumerate(self._pages(entity), start=1):
            items, _ = _items(entity, n, body)
            out += items
            progress(entity, len(out))
        return out

    def deleted(self, since: datetime) -> list[str]:
        return [i for name, body in self._pages("deletedEntities") for i in _deleted(name, body)]
