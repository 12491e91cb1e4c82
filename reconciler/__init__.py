"""Policy-as-code for Microsoft Entra ID group-based licensing."""

__version__ = "0.1.0"
