"""LazyApp: the page is built on its first request, once, even when requests arrive together."""

from __future__ import annotations

import asyncio

from mrm.airflow.ui_mount import LazyApp


def test_the_app_is_built_on_the_first_request_only_and_once():
    built, seen = [], []

    async def page(scope, receive, send):
        seen.append(scope["path"])

    def build():
        built.append(1)
        return page

    lazy = LazyApp(build, "Model Risk")
    assert built == []

    async def two_requests():
        await asyncio.gather(lazy({"path": "/a"}, None, None), lazy({"path": "/b"}, None, None))

    asyncio.run(two_requests())
    assert (built, sorted(seen)) == ([1], ["/a", "/b"])


def test_airflow_lists_it_by_its_name_and_builder():
    def build():
        return None

    assert repr(LazyApp(build, "Model Risk")) == f"<Model Risk: {__name__}.build>"
