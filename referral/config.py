"""Settings read from the environment; ``create_app(config)`` may override any of them."""

import os


def flag(value) -> bool | None:
    """A yes/no setting as people write it: 1, true, yes, on (any case) for yes; 0, false, no,
    off or nothing for no; None unset. Any other word stops the start: MAIL_USE_TLS=enabled must
    not send mail in plain text unsaid."""
    if value is None or isinstance(value, bool):
        return value
    word = str(value).strip().lower()
    if word in ("1", "true", "yes", "on"):
        return True
    if word in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(f"{value!r} is not a yes or a no: write 1 or 0 (true/false, yes/no, on/off)")


def _env_flag(name: str) -> bool:
    return flag(os.environ.get(name)) is True


class Config:
    # Unset: a random key is made once into SECRET_KEY_FILE (instance/secret_key, mode 600).
    SECRET_KEY = os.environ.get("SECRET_KEY")
    SECRET_KEY_FILE = os.environ.get("SECRET_KEY_FILE")
    # Without DATABASE_URL: a SQLite file in the instance folder, where Flask-SQLAlchemy puts
    # relative paths and creates it if missing: instance/ in a checkout,
    # <venv>/var/referral-instance/ once installed (site-packages may not be writable).
    SQLALCHEMY_DATABASE_URI = os.environ.get("DATABASE_URL", "sqlite:///referral.db")
    # hide_parameters: SQL logs and database errors never carry what a person typed.
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True, "hide_parameters": True}

    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    # Unset: Secure when PUBLIC_URL is https (referral/session_security.py).
    SESSION_COOKIE_SECURE = os.environ.get("SESSION_COOKIE_SECURE")
    SESSION_IDLE_MINUTES = int(os.environ.get("SESSION_IDLE_MINUTES", "60"))
    SESSION_MAX_HOURS = int(os.environ.get("SESSION_MAX_HOURS", "12"))
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    WTF_CSRF_TIME_LIMIT = None  # a form left open during a long phone call must still submit
    # Pages holding a token send no Referer, so their forms could not pass the HTTPS Referer
    # check; the CSRF token and SameSite cookies protect them (docs/security.md).
    WTF_CSRF_SSL_STRICT = False
    MAX_CONTENT_LENGTH = 256 * 1024

    BABEL_DEFAULT_LOCALE = "en"
    BABEL_DEFAULT_TIMEZONE = "Europe/Warsaw"
    # Relative to the package (Flask-Babel resolves it against app.root_path).
    BABEL_TRANSLATION_DIRECTORIES = "translations"

    # Password hashing: argon2id at argon2-cffi's RFC 9106 "low memory" profile by default.
    ARGON2_PROFILE = os.environ.get("ARGON2_PROFILE", "RFC_9106_LOW_MEMORY")
    SIGN_IN_MAX_FAILURES = 5
    SIGN_IN_LOCK_MINUTES = 15  # the first lock; each next one lasts twice as long
    SIGN_IN_RATE_LIMIT = os.environ.get("SIGN_IN_RATE_LIMIT", "10 per minute; 100 per hour")
    FORGOT_PASSWORD_HOURS = 1
    FORGOT_PASSWORD_EVERY_MINUTES = 5
    # Every answer of /login/forgot takes at least this long: a known address also makes a link
    # and its mail, and the difference in time told which addresses have accounts.
    FORGOT_PASSWORD_SECONDS = float(os.environ.get("FORGOT_PASSWORD_SECONDS", "0.5"))
    PASSWORD_RESET_HOURS = int(os.environ.get("PASSWORD_RESET_HOURS", "72"))

    # Working hours to answer an offer, by urgency, where the environment overrides the defaults
    # of handoff.DEFAULT_DEADLINE_HOURS (docs/design.md, "Deadlines").
    DEADLINE_HOURS = {
        urgency: float(os.environ[f"DEADLINE_HOURS_{urgency.upper()}"])
        for urgency in ("urgent", "normal")
        if os.environ.get(f"DEADLINE_HOURS_{urgency.upper()}")
    }
    # An accepted case with no step, note or appointment for this many days: its holder is
    # reminded once (referral/reminders.py).
    IDLE_REMINDER_DAYS = int(os.environ.get("IDLE_REMINDER_DAYS", "7"))
    # Personal data at rest (referral/personal_data.py, docs/operations.md): Fernet keys, newest
    # first, separated by commas; the key of the matching hashes of phone numbers and e-mails.
    # Unset: read from DATA_KEYS_FILE / MATCH_KEY_FILE (instance/data_keys, instance/match_key),
    # which only DEVELOPMENT_KEYS=1 (`make run`) creates; without keys the app refuses to start.
    DATA_KEYS = os.environ.get("DATA_KEYS")
    DATA_KEYS_FILE = os.environ.get("DATA_KEYS_FILE")
    MATCH_KEY = os.environ.get("MATCH_KEY")
    MATCH_KEY_FILE = os.environ.get("MATCH_KEY_FILE")
    DEVELOPMENT_KEYS = _env_flag("DEVELOPMENT_KEYS")

    # How long personal data is kept (docs/operations.md; the privacy notice reads these):
    # after every need of a request ended; after submission while a need is still open; the log
    # of who opened a person's data; backups, which the operator rotates (the notice promises it).
    RETENTION_DAYS = int(os.environ.get("RETENTION_DAYS", "180"))
    OPEN_RETENTION_DAYS = int(os.environ.get("OPEN_RETENTION_DAYS", "365"))
    OPEN_RETENTION_WARNING_DAYS = int(os.environ.get("OPEN_RETENTION_WARNING_DAYS", "30"))
    ACCESS_LOG_RETENTION_DAYS = int(os.environ.get("ACCESS_LOG_RETENTION_DAYS", "730"))
    # Mail to staff and webhook deliveries, once sent or given up (not less than the coordinator's
    # 30 days of "Mail not delivered").
    DELIVERY_RETENTION_DAYS = int(os.environ.get("DELIVERY_RETENTION_DAYS", "90"))
    # Webhooks to this machine or its network (plain HTTP to this machine too): development only.
    # Off, the server never posts, from inside, to a service that trusts whoever is inside.
    WEBHOOK_PRIVATE_ADDRESSES = _env_flag("WEBHOOK_PRIVATE_ADDRESSES")
    BACKUP_RETENTION_DAYS = int(os.environ.get("BACKUP_RETENTION_DAYS", "30"))
    # The controller named in the privacy notice, and where people write about their data.
    CONTROLLER_NAME = os.environ.get("CONTROLLER_NAME", "Konsorcjum Migracyjne")
    PRIVACY_CONTACT = os.environ.get("PRIVACY_CONTACT", "dane@konsorcjum.example")
    CONSENT_VERSION = "2026-11"
    # Working days within which the consortium's coordinator answers about a need no organisation
    # took: the confirmation and the status page promise it (referral/promises.py).
    COORDINATOR_ANSWER_DAYS = int(os.environ.get("COORDINATOR_ANSWER_DAYS", "2"))

    # Number of reverse proxies in front of the app (0: none); see ProxyFix in create_app.
    PROXY_COUNT = int(os.environ.get("PROXY_COUNT", "0"))
    # Rate-limit counts: in Redis when several processes serve the app (referral/limits.py).
    REDIS_URL = os.environ.get("REDIS_URL", "")
    RATELIMIT_STORAGE_URI = os.environ.get("RATELIMIT_STORAGE_URI") or REDIS_URL or "memory://"
    # A Redis that stops answering costs a request half a second at most, then the limits are
    # counted in memory (with a warning in the log) until it answers again.
    RATELIMIT_STORAGE_OPTIONS = {"socket_connect_timeout": 0.5, "socket_timeout": 0.5}
    RATELIMIT_IN_MEMORY_FALLBACK_ENABLED = True
    RATELIMIT_KEY_PREFIX = os.environ.get("RATELIMIT_KEY_PREFIX", "referral")
    INTAKE_RATE_LIMIT = os.environ.get("INTAKE_RATE_LIMIT", "60 per hour")
    # The person's answers to an appointment (confirm, another time), per address.
    APPOINTMENT_RATE_LIMIT = os.environ.get("APPOINTMENT_RATE_LIMIT", "10 per hour")
    # Per API token (per address for calls without one).
    API_RATE_LIMIT = os.environ.get("API_RATE_LIMIT", "120 per minute; 5000 per hour")
    RATELIMIT_HEADERS_ENABLED = True
    # How often a process checks the directory's version stamp for what it keeps (choices, place
    # names, public pages): an edit made elsewhere shows within this many seconds.
    DIRECTORY_CHECK_SECONDS = float(os.environ.get("DIRECTORY_CHECK_SECONDS", "1"))

    MAIL_SERVER = os.environ.get("MAIL_SERVER", "localhost")
    MAIL_PORT = int(os.environ.get("MAIL_PORT", "25"))
    MAIL_USE_TLS = _env_flag("MAIL_USE_TLS")
    MAIL_USERNAME = os.environ.get("MAIL_USERNAME", "")
    MAIL_PASSWORD = os.environ.get("MAIL_PASSWORD", "")
    MAIL_SENDER = os.environ.get("MAIL_SENDER", "Referral <no-reply@referral.example>")
    PUBLIC_URL = os.environ.get("PUBLIC_URL", "http://127.0.0.1:5000")

    # Messages to the person (referral/person_messages.py, referral/sms.py): text messages go
    # through SMS_BACKEND, "log" (the log gets the number masked and the length, never the text:
    # for development) or "smsapi" (SMSAPI.pl's REST API at SMSAPI_URL, with the API token
    # SMSAPI_TOKEN and the sender name SMSAPI_SENDER registered there; empty: the account's).
    SMS_BACKEND = os.environ.get("SMS_BACKEND", "log")
    SMSAPI_URL = os.environ.get("SMSAPI_URL", "https://api.smsapi.pl")
    SMSAPI_TOKEN = os.environ.get("SMSAPI_TOKEN", "")
    SMSAPI_SENDER = os.environ.get("SMSAPI_SENDER", "")
    # What the messages promise: an organisation that accepted contacts the person within about
    # this many working days; the coordinator looks for an organisation within about so many.
    CONTACT_WORKING_DAYS = int(os.environ.get("CONTACT_WORKING_DAYS", "3"))
    UNMATCHED_WORKING_DAYS = int(os.environ.get("UNMATCHED_WORKING_DAYS", "5"))
    # "I lost my link" (/<lang>/status/lost): asks per address, and at most one fresh link per
    # request in this many minutes; every answer takes at least STATUS_LOST_SECONDS.
    STATUS_LOST_RATE_LIMIT = os.environ.get("STATUS_LOST_RATE_LIMIT", "5 per hour")
    FRESH_LINK_EVERY_MINUTES = int(os.environ.get("FRESH_LINK_EVERY_MINUTES", "10"))
    # The status link and fresh links to one phone or e-mail, whichever request they are about:
    # typing someone's number into the form again and again does not flood their phone.
    LINK_MESSAGES_PER_CONTACT = os.environ.get("LINK_MESSAGES_PER_CONTACT", "3 per hour; 6 per day")
    # The person's messages to the organisation (each one mails it): per address, and per request.
    STATUS_MESSAGE_RATE_LIMIT = os.environ.get("STATUS_MESSAGE_RATE_LIMIT", "10 per hour")
    STATUS_LOST_SECONDS = float(os.environ.get("STATUS_LOST_SECONDS", "0.5"))


class TestConfig(Config):
    TESTING = True
    WEBHOOK_PRIVATE_ADDRESSES = True  # the receivers the tests run are on this machine
    DIRECTORY_CHECK_SECONDS = 0.0
    # Only the tests select TestConfig; the app never falls back to it.
    SECRET_KEY = "test-secret"  # noqa: S105  # nosec
    WTF_CSRF_ENABLED = False
    ARGON2_PROFILE = "CHEAPEST"
    RATELIMIT_ENABLED = False
    # Fixed keys: test data is made up, and a test may open the database with a second app.
    DATA_KEYS = "ij7eie9y8uenglanIjnTLLk7fr_ZP90kzICiMDFPbbw="
    MATCH_KEY = "test-match-key-test-match-key-0123456789"
    STATUS_LOST_SECONDS = 0.0
    FORGOT_PASSWORD_SECONDS = 0.0
