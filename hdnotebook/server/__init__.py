"""hdnotebook's Jupyter server extension: REST for experiments and runs, and a plain page.

Enabled by ``jupyter-config/jupyter_server_config.d/hdnotebook.json`` (installed with the package)::

    {"ServerApp": {"jpserver_extensions": {"hdnotebook.server": true}}}

or by hand: ``jupyter server extension enable hdnotebook.server``. Then ``<server>/hdnotebook`` is
a page listing every experiment of the workspaces under the server's root, and
``<server>/hdnotebook/api/...`` is the JSON API the JupyterLab sidebar polls (see
:mod:`hdnotebook.server.handlers` for the routes). Settings: ``c.HDNotebook.root_dir``,
``c.HDNotebook.max_depth``, ``c.HDNotebook.workspaces`` (see :class:`HDNotebook`).
"""

from __future__ import annotations

from typing import Any

from .workspaces import HDNotebook, WorkspaceFinder

__all__ = ["HDNotebook", "WorkspaceFinder", "_jupyter_server_extension_points", "_load_jupyter_server_extension"]


def _jupyter_server_extension_points() -> list[dict[str, Any]]:
    return [{"module": "hdnotebook.server"}]


def _load_jupyter_server_extension(serverapp: Any) -> None:
    """Register the handlers on a running jupyter_server ``ServerApp``."""
    from .handlers import handlers

    settings = HDNotebook(parent=serverapp)
    web_app = serverapp.web_app
    finder = WorkspaceFinder.from_config(settings, serverapp.root_dir)
    web_app.settings["hdnotebook_finder"] = finder
    web_app.add_handlers(".*$", handlers(web_app.settings["base_url"]))
    serverapp.log.info("hdnotebook: experiments API at %shdnotebook (workspaces under %s)",
                       web_app.settings["base_url"], finder.root)


# jupyter_server < 2 looked for this name
load_jupyter_server_extension = _load_jupyter_server_extension
