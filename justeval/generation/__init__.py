"""The generation stage: model outputs for an instruction set, written to a run directory
(`generate`), or outputs made elsewhere wrapped into one (`import_outputs`)."""

from __future__ import annotations

from justeval.generation.export import ExportSummary, export_outputs
from justeval.generation.importer import ImportSummary, import_outputs
from justeval.generation.resume import latest_generations
from justeval.generation.run import GenerateSummary, generate

__all__ = ["ExportSummary", "GenerateSummary", "ImportSummary", "export_outputs", "generate", "import_outputs",
           "latest_generations"]
