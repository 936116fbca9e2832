"""The dashboard for teachers and IT: server-rendered Jinja2 pages with autoescaping."""

from __future__ import annotations

from fastapi import APIRouter

from server_stub.dashboard import audit_pages, devices, login, policy_page, rooms

router = APIRouter(include_in_schema=False)
for _module in (login, rooms, devices, audit_pages, policy_page):
    router.include_router(_module.router)
