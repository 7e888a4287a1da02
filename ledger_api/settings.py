"""The API's one settings object: the indexer's settings (node, deployment, mirror) and what only the API needs
(where it listens, how tokens are signed, where its organisation's keys are kept, the content store).

Read from `LEDGER_*` environment variables and a `.env` file. The defaults run the local demo as it is, with a
token secret and keystore password that are published in this file; they are accepted only when
`LEDGER_ENVIRONMENT=development`, and any other environment refuses to start until they are replaced.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator

from indexer.contracts import PROJECT_ROOT
from indexer.settings import Settings as IndexerSettings
from ledger_api.board import CoverRules
from ledger_api.delays import DelayRules
from ledger_api.sourcing import SourcingRules
from ledger_api.health import COMPONENTS, HealthRules

DEVELOPMENT_TOKEN_SECRET = "development-only-token-secret-do-not-deploy"
DEVELOPMENT_KEYSTORE_PASSWORD = "development-only-keystore-password"


class Settings(IndexerSettings):
    environment: Literal["development", "production"] = Field(
        "development", description="production refuses the published development secrets")
    api_host: str = Field("127.0.0.1", description="where the API listens")
    api_port: int = Field(8000, ge=1, le=65535)
    public_url: str = Field("http://127.0.0.1:8000", description="the API's address as members reach it")
    siwe_domain: str = Field("127.0.0.1:8000", description="the EIP-4361 domain a sign-in message must name")
    token_secret: SecretStr = Field(SecretStr(DEVELOPMENT_TOKEN_SECRET), description="HMAC key of access tokens")
    token_ttl: int = Field(900, ge=30, le=86_400, description="seconds an access token is valid")
    nonce_ttl: int = Field(300, ge=10, le=3_600, description="seconds a sign-in nonce is valid")
    keystore_dir: Path = Field(PROJECT_ROOT / ".data" / "keystore",
                               description="encrypted keystores (eth-account JSON) of the keys this API signs with")
    keystore_password: SecretStr = Field(SecretStr(DEVELOPMENT_KEYSTORE_PASSWORD),
                                         description="the password of those keystores")
    content_store: str = Field(f"local:{PROJECT_ROOT / '.data' / 'content'}",
                               description="local:<folder> or kubo:<multiaddr> for AR media and documents")
    brand_database_url: str = Field(f"sqlite:///{PROJECT_ROOT / '.data' / 'brand.sqlite3'}",
                                    description="the brand's code registry and consumer scan log (not a mirror: "
                                                "back it up)")
    scan_region_header: str = Field("x-scan-region", description="the request header in which the geo proxy "
                                                                 "names the scan's region (code or name)")
    scan_place_header: str = Field("x-scan-city", description="the request header naming the scan's city")
    scan_default_region: str = Field("", description="the region assumed for a scan whose request names none "
                                                     "(a deployment without a geo proxy; the local demo)")
    scan_window: int = Field(30 * 86_400, ge=60, description="seconds within which the copied-code rule counts")
    scan_max_devices: int = Field(3, ge=1, description="more devices than this within the window: suspicious")
    scan_max_places: int = Field(2, ge=1, description="more places than this within the window: suspicious")
    scan_rate_limit: str = Field("30/minute", description="scans one client address may make (slowapi notation)")
    scan_threads: int = Field(8, ge=1, le=64, description="threads per process that answer scans at once")
    board_window_days: int = Field(28, ge=1, le=366, description="days of sales a region's daily sell-through "
                                                                 "is averaged over (days of cover)")
    board_shortage_days: float = Field(7.0, ge=0, description="less cover than this many days is a shortage")
    board_surplus_days: float = Field(60.0, gt=0, description="more cover than this many days is a surplus")
    board_delay_min_history: int = Field(3, ge=1, description="fewer comparable deliveries than this predict no "
                                                              "delay")
    board_delay_history: int = Field(50, ge=1, description="the most recent comparable deliveries a delay "
                                                           "prediction learns from")
    board_delay_lookback_days: int = Field(90, ge=1, le=3_660, description="days of deliveries behind delay "
                                                                           "predictions, lead times and the backtest")
    board_target_cover_days: float = Field(30.0, gt=0, description="the cover a transfer suggestion brings a short "
                                                                   "region up to")
    board_shipment_yuan: float = Field(200.0, ge=0, description="sourcing cost model: the fixed charge of a shipment")
    board_handling_yuan_per_case: float = Field(5.0, ge=0, description="sourcing cost model: handling per case")
    board_freight_yuan_per_case_hour: float = Field(0.5, ge=0, description="sourcing cost model: freight per case "
                                                                           "and hour on the road")
    board_default_lead_hours: float = Field(72.0, gt=0, description="lead time assumed for a warehouse with no "
                                                                    "delivery in the ledger yet")
    board_weight_cover: float = Field(0.6, ge=0, description="sourcing score weights: relative")
    board_weight_lead_time: float = Field(0.25, ge=0)
    board_weight_cost: float = Field(0.15, ge=0)
    board_weeks: int = Field(26, ge=1, le=520, description="weeks the board's weekly cycle times and scans cover, "
                                                           "and how far back its price alerts go by default")
    board_health_window_days: int = Field(90, ge=7, le=366, description="days of trade a distributor's health "
                                                                        "score reads")
    board_health_orders_per_week: float = Field(1.0, gt=0, description="orders a week that earn a distributor "
                                                                       "full marks for purchase frequency")
    board_health_top_share: float = Field(0.2, gt=0, le=1, description="the share of the health ranking marked "
                                                                       "as its top")
    board_health_weight_purchase_frequency: float = Field(0.25, ge=0, description="health score weights: relative, "
                                                                                  "at least one above 0")
    board_health_weight_fulfilment: float = Field(0.2, ge=0)
    board_health_weight_receipt_confirmation: float = Field(0.15, ge=0)
    board_health_weight_payment: float = Field(0.2, ge=0)
    board_health_weight_sell_through: float = Field(0.2, ge=0)
    write_timeout: float = Field(10.0, gt=0, description="seconds a write waits for its receipt and the mirror")
    mirror_poll: float = Field(0.01, gt=0, description="seconds between the API's looks at the mirror checkpoint")
    ready_max_lag: int = Field(10, ge=0, description="blocks the mirror may trail the node and still be ready")
    page_limit: int = Field(500, ge=1, description="the largest page a list endpoint returns")

    @property
    def cover_rules(self) -> CoverRules:
        return CoverRules(self.board_window_days, self.board_shortage_days, self.board_surplus_days)

    @property
    def delay_rules(self) -> DelayRules:
        return DelayRules(self.board_delay_min_history, self.board_delay_history, self.board_delay_lookback_days)

    @property
    def sourcing_rules(self) -> SourcingRules:
        return SourcingRules(self.board_target_cover_days, self.board_shipment_yuan,
                             self.board_handling_yuan_per_case, self.board_freight_yuan_per_case_hour,
                             self.board_default_lead_hours, self.board_weight_cover, self.board_weight_lead_time,
                             self.board_weight_cost)

    @property
    def health_rules(self) -> HealthRules:
        weights = {name: getattr(self, f"board_health_weight_{name}") for name in COMPONENTS}
        return HealthRules(self.board_health_window_days, self.board_health_orders_per_week,
                           self.board_health_top_share, weights)

    @model_validator(mode="after")
    def _check_health_weights(self) -> "Settings":
        self.health_rules  # refuses weights that are all 0, at start rather than on the board's first request
        return self

    @model_validator(mode="after")
    def _refuse_development_secrets(self) -> "Settings":
        if self.environment == "development":
            return self
        problems = []
        secret = self.token_secret.get_secret_value()
        if secret == DEVELOPMENT_TOKEN_SECRET or len(secret) < 32:
            problems.append("LEDGER_TOKEN_SECRET must be a secret of at least 32 characters of your own")
        if self.keystore_password.get_secret_value() == DEVELOPMENT_KEYSTORE_PASSWORD:
            problems.append("LEDGER_KEYSTORE_PASSWORD must be the password of your own keystores")
        if problems:
            raise ValueError(f"{self.environment} settings refused: " + "; ".join(problems))
        return self
