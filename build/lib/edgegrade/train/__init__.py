"""Training stage (torch): AttnRegDeepLab, hybrid losses, two-stage decoupled recipes."""

from edgegrade.errors import require

require("torch", "train")
