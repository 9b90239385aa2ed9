"""Fulfilment: find the person's data in the controller's systems, deliver the copy, erase with proof.

Pipeline level: uses the pure data map (`dsr.datamap`) and the store, never the console or the
channels.  Modules by concept: `connectors/` (one adapter per kind of system), `discovery`
(who has what, per system, retried), `review` (exclusions and approval), `package` (the ZIP),
`vault` (encryption at rest), `delivery` (download links and one-time codes), `plan` and
`execute` (erasure, restriction, rectification with proof and Art. 19 notices), `holds`
(records kept under a retention duty, erased at their end date), `texts` (what the person and
the recipients read).  docs/FULFILMENT.md describes the whole flow.
"""
