"""The domain: item types and their metadata, 文号/索取号 formats, the HTML sanitiser, the
error types, ids and the clock. Pure: it imports nothing else of ours (the store, the
services and the channels all import it; it imports none of them)."""
