"""Pages for people: the agent sidebar, with a Content-Security-Policy that forbids inline scripts."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, RedirectResponse

from app.deps import SettingsDep

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"

router = APIRouter(tags=["pages"], include_in_schema=False)


def content_security_policy(frame_ancestors: list[str]) -> str:
    """No inline script or style, nothing loaded from elsewhere but images."""
    return "; ".join([
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: https:",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors " + (" ".join(frame_ancestors) or "'none'"),
    ])


def page(name: str, frame_ancestors: list[str]) -> FileResponse:
    headers = {
        "Content-Security-Policy": content_security_policy(frame_ancestors),
        "Referrer-Policy": "no-referrer",
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "no-cache",
    }
    return FileResponse(STATIC_DIR / name, media_type="text/html", headers=headers)


@router.get("/sidebar")
def sidebar(settings: SettingsDep) -> FileResponse:
    """The agent sidebar (320–420 px wide; also hosted by the browser extension)."""
    return page("sidebar.html", settings.frame_ancestors)


@router.get("/admin")
def admin_page() -> FileResponse:
    """The KB owners' analytics page (needs an admin key once keys exist); never framed."""
    return page("admin.html", [])


@router.get("/")
def home() -> RedirectResponse:
    return RedirectResponse("/sidebar")
