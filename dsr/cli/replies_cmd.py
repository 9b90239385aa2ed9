"""`dsr replies ...`: the reply template library (preview for legal review)."""

from __future__ import annotations

from pathlib import Path

import typer

from dsr.cli.common import CliError
from dsr.controllers import ProfileError, load_profile
from dsr.replies import ReplyError
from dsr.replies.preview import write_preview


def register(app: typer.Typer) -> None:
    """Add this module's commands to `app`."""
    replies = typer.Typer(help="Reply templates: preview every template for legal review.",
                          no_args_is_help=True)

    @replies.command("preview")
    def preview(
        controller: str = typer.Option(..., "--controller", help="Profile name (kmb2, komsa) or path."),
        out: Path = typer.Option(..., "--out", help="Folder for index.html and the .txt files."),
        overrides: Path | None = typer.Option(
            None, "--overrides", help="The controller's template override folder, if any."),
    ) -> None:
        """Render every reply kind (Sie, Du, English) with sample data into OUT/index.html."""
        try:
            profile = load_profile(controller)
        except ProfileError as exc:
            raise CliError(str(exc), exit_code=2) from exc
        if overrides is not None and not overrides.is_dir():
            raise CliError(f"--overrides: {overrides} is not a folder", exit_code=2)
        try:
            index = write_preview(profile, out, overrides_dir=overrides)
        except ReplyError as exc:
            raise CliError(f"template error: {exc}") from exc
        count = len(list(out.glob("*.txt")))
        typer.echo(f"{count} renderings for {profile.legal_name} written; open {index}")

    app.add_typer(replies, name="replies")
