"""dsr-assistant: answers GDPR data-subject requests for German controllers.

The tree is the architecture: a pure core (`intents`, `replies`, `controllers`, `deadlines`,
`mail`, `inbound`), `store` (database only), `pipeline` (one transactional sequence of steps and
the one door out), `channels` (e-mail, Telegram, the outbox sender), `console` (web UI and API),
`service` (wiring of `dsr serve`) and `cli`. `docs/ARCHITECTURE.md` has the map.
"""
