"""Web console for the DPO and managers, and the JSON API (Starlette)."""
