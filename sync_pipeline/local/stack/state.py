"""``.local/stack.json`` as typed records, so the steps of ``up`` read fields, not dict keys.

The JSON on disk is the one the stack has always written (keys sorted, absent rather than
null when unknown), so a state file from an earlier version loads unchanged and a load
followed by a save gives back the same file. What is recorded:

* ``target``           the PostgreSQL server + database names the store lives on (last ``up``);
* ``embedded``         the embedded PostgreSQL supervisor we started (whatever the target);
* ``databases``        per target id: template migrated, admin user, API key, shop,
                       ``working_template`` (what of the template the working clone was made from);
* ``build``            fingerprint of the last ``medusa build``;
* ``medusa``           the store's server: pid, start time, port, target id;
* ``template_server``  the short-lived server on the template (only while making the key);
* ``spare_job``        background clone of the spare database.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any, Literal, TypeVar

from sync_pipeline.local.stack.config import STATE_FILE, read_json, write_private_json
from sync_pipeline.local.stack.postgres import PgTarget
from sync_pipeline.local.stack.procs import Process
from sync_pipeline.local.stack.shop import ShopInfo

_Record = TypeVar("_Record", bound=Process)


def _record(cls: type[_Record], data: dict[str, Any] | None) -> _Record | None:
    return cls(**{f.name: data[f.name] for f in fields(cls)}) if data else None


@dataclass(frozen=True)
class Server(Process):
    """A Medusa server we started on ``port`` (the template server)."""

    port: int


@dataclass(frozen=True)
class StoreServer(Server):
    """The store's Medusa server, on the database of ``target`` (a :attr:`PgTarget.id`)."""

    target: str


@dataclass(frozen=True)
class EmbeddedServer(Process):
    """The embedded PostgreSQL supervisor, on ``port`` with its data under ``pg_root``."""

    port: int
    pg_root: str


@dataclass(frozen=True)
class SpareJob(Process):
    """The background clone of the template into the spare database of ``target``."""

    target: str


@dataclass(frozen=True)
class ApiKey:
    id: str
    token: str

    def __repr__(self) -> str:  # keep the secret out of test reports and logs
        return f"ApiKey(id={self.id!r}, token='***')"


@dataclass(frozen=True)
class TemplateStamp:
    """What of the template a working clone was made from: changes with the key or shop."""

    api_key_id: str
    shop: ShopInfo | None

    def to_dict(self) -> dict[str, Any]:
        return {"api_key_id": self.api_key_id, "shop": self.shop.to_dict() if self.shop else None}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TemplateStamp:
        shop = data.get("shop")
        return cls(data["api_key_id"], ShopInfo.from_dict(shop) if shop else None)


@dataclass
class DatabaseState:
    """What is done on the databases of one target (all of it lives in the template)."""

    migrated: bool = False
    admin_email: str | None = None
    admin_password: str | None = None
    api_key: ApiKey | None = None
    shop: ShopInfo | None = None
    working_template: TemplateStamp | None = None
    working_key_id: str | None = None

    def template_stamp(self) -> TemplateStamp:
        """What the working database must have been cloned from (the key exists by then)."""
        assert self.api_key is not None
        return TemplateStamp(self.api_key.id, self.shop)

    def shop_current(self, currency: str) -> bool:
        """The template's shop is recorded, for this currency."""
        return bool(self.shop and self.shop.currency_code == currency)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"migrated": True} if self.migrated else {}
        for name, value in (
            ("admin_email", self.admin_email),
            ("admin_password", self.admin_password),
            ("api_key", self.api_key and asdict(self.api_key)),
            ("shop", self.shop and self.shop.to_dict()),
            ("working_template", self.working_template and self.working_template.to_dict()),
            ("working_key_id", self.working_key_id),
        ):
            if value is not None:
                data[name] = value
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DatabaseState:
        key, shop, stamp = data.get("api_key"), data.get("shop"), data.get("working_template")
        return cls(
            migrated=bool(data.get("migrated")),
            admin_email=data.get("admin_email"),
            admin_password=data.get("admin_password"),
            api_key=ApiKey(key["id"], key["token"]) if key else None,
            shop=ShopInfo.from_dict(shop) if shop else None,
            working_template=TemplateStamp.from_dict(stamp) if stamp else None,
            working_key_id=data.get("working_key_id"),
        )


ServerName = Literal["medusa", "template_server"]


@dataclass
class StackState:
    """The whole of ``.local/stack.json``; ``save`` after every change worth keeping."""

    target: PgTarget | None = None
    embedded: EmbeddedServer | None = None
    databases: dict[str, DatabaseState] = field(default_factory=dict)
    build_fingerprint: str | None = None
    medusa: StoreServer | None = None
    template_server: Server | None = None
    spare_job: SpareJob | None = None

    def database(self, target: PgTarget) -> DatabaseState:
        """The record of ``target``'s databases, made empty on first use."""
        return self.databases.setdefault(target.id, DatabaseState())

    def forget_database(self, target: PgTarget) -> DatabaseState:
        """The template is gone or made again: nothing recorded of it holds any more."""
        self.databases[target.id] = DatabaseState()
        return self.databases[target.id]

    def pop_server(self, which: ServerName) -> Server | None:
        record = getattr(self, which)
        setattr(self, which, None)
        return record

    @classmethod
    def load(cls) -> StackState:
        data = read_json(STATE_FILE)
        return cls(
            target=PgTarget.from_dict(data["target"]) if data.get("target") else None,
            embedded=_record(EmbeddedServer, data.get("embedded")),
            databases={
                target_id: DatabaseState.from_dict(db)
                for target_id, db in data.get("databases", {}).items()
            },
            build_fingerprint=data.get("build", {}).get("fingerprint"),
            medusa=_record(StoreServer, data.get("medusa")),
            template_server=_record(Server, data.get("template_server")),
            spare_job=_record(SpareJob, data.get("spare_job")),
        )

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {}
        if self.target is not None:
            data["target"] = self.target.to_dict()
        if self.databases:
            data["databases"] = {key: db.to_dict() for key, db in self.databases.items()}
        if self.build_fingerprint is not None:
            data["build"] = {"fingerprint": self.build_fingerprint}
        for name, record in (
            ("embedded", self.embedded),
            ("medusa", self.medusa),
            ("template_server", self.template_server),
            ("spare_job", self.spare_job),
        ):
            if record is not None:
                data[name] = asdict(record)
        return data

    def save(self) -> None:
        write_private_json(STATE_FILE, self.to_dict())
