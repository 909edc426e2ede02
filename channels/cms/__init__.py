"""The cms channel: the bureau's website, a WordPress site over its REST API v2 (docs/cms-wordpress.md)."""

from channels.cms.channel import CmsChannel, CmsSettings
from channels.cms.errors import classify
from channels.cms.render import DEFAULT_CATEGORY_SLUGS

__all__ = ["DEFAULT_CATEGORY_SLUGS", "CmsChannel", "CmsSettings", "classify"]
