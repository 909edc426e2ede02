"""The rss channel: RSS 2.0 / Atom 1.0 feeds as static files from the channel's own store."""

from channels.rss.channel import RssChannel, RssSettings, default_output_dir
from channels.rss.entry import DISCLOSURE_NS, render_entry, subject_id

__all__ = ["DISCLOSURE_NS", "RssChannel", "RssSettings", "default_output_dir", "render_entry", "subject_id"]
