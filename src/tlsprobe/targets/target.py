"""Target: a parsed, validated endpoint. Made only by the door (URLs, keyword strings, a
source's parts); its display form is computed there, from the input's structure."""

from __future__ import annotations

from dataclasses import field

from tlsprobe.records import record
from tlsprobe.targets.client_tls import ClientTls
from tlsprobe.targets.client_trust import ClientTrust
from tlsprobe.targets.hosts import is_ip_literal


@record
class Target:
    """One endpoint to probe. `url` may hold secrets; `display` and repr never do."""

    url: str  # the text as given, or a source's canonical URL: matches exporter requests
    protocol: str
    host: str
    port: int
    path: str = "/"
    user: str | None = None
    password: str | None = None
    params: tuple[tuple[str, str], ...] = ()  # may hold sslpassword
    connect_host: str | None = None
    expect_status: tuple[range, ...] = ()
    name: str = ""
    source: str = "command line"
    client: ClientTls | None = None  # how the configured client connects (client.encryption)
    # Which client connects and the roots it trusts (None: the command line's, by protocol).
    trust: ClientTrust | None = None
    client_cert: str | None = None
    client_key: str | None = None
    # The passphrase of an encrypted client_key (tlsprobe.toml's client_key_password_env).
    client_key_password: str | None = None
    shown: str = ""  # the input with every secret as ***, made by the door from its structure
    query: str = field(default="", compare=False)  # an https URL's query, as written
    # Every value `shown` hides (a query's api_key=, a keyword string's password=), as written
    # and decoded: the runner's scrub hides exactly what the door hid, wherever it comes back.
    hidden: tuple[str, ...] = field(default=(), compare=False, repr=False)
    # A hint in the source's own terms for each kind of client change (model.Fix value, hint):
    # an Airflow connection's extra, an airflow.cfg key. The runner puts them in place.
    terms: tuple[tuple[str, str], ...] = field(default=(), compare=False)
    # False when the real client is never given --ca-file (an Airflow connection's libpq, whose
    # root is sslrootcert or ~/.postgresql/root.crt): the probe's client is not given it either.
    takes_ca_file: bool = field(default=True, compare=False)
    # True for a target a caller chose (the exporter's /probe with --allow-any-target): it gets
    # nothing of the exporter's, no libpq environment, password or service file, no file under
    # its home (targets.caller says what and why).
    lends_nothing: bool = field(default=False, compare=False)

    @property
    def display(self) -> str:
        """The input as given (or a source's canonical URL), every secret replaced by ***.
        Made from the input's structure alone: a password given apart from the text
        (password_env) never was in it."""
        return self.shown

    @property
    def label(self) -> str:
        return self.name or self.display

    @property
    def address(self) -> str:
        """Where to open the TCP connection: #connect= or libpq's hostaddr, else the host."""
        return self.connect_host or self.host

    @property
    def is_ip(self) -> bool:
        return is_ip_literal(self.host)

    def __repr__(self) -> str:
        # Built by hand: the generated repr would show params (sslpassword) and the url.
        return (
            f"Target({self.display!r}, protocol={self.protocol!r}, host={self.host!r}, "
            f"port={self.port!r}, name={self.name!r}, source={self.source!r})"
        )
