"""Fulfilment: find the person's data in the controller's systems, deliver the copy, erase with proof.

Pipeline level: uses the pure data map (`dsr.datamap`) and the store, never the console or the
channels.  Modules by concept: `connectors/` (one adapter per kind of system), `discovery`
(who has what, per system, retried), `review` (exclusions and approval), `package` (the ZIP),
`vault` (encryption at rest), `delivery` (download links and one-time codes), `sealed` (the
package as an AES-256 ZIP attachment, its password by a second channel), `uploads` (the DPO's own
files), `plan` and `execute` (erasure, restriction, rectification with proof and Art. 19
notices), `journal` (carrying a plan out safely against a crash), `holds`
(records kept under a retention duty, erased at their end date), `texts` (what the person and
the recipients read).  docs/FULFILMENT.md describes the whole flow.
"""
