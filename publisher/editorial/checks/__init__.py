"""Content assurance at approval (issue 19): wording, names and titles, secrecy markings,
personal data, dates, links and accessibility, checked on every item before it reaches any
channel, and shown as one list with the channels' own pre-flight problems.

    rule family     module        what it finds (docs/checks.md lists every rule)
    wording.*       wording       dictionary terms: wrong forms, non-normative wording, forbidden words
    register.*      register      names paired with a title not held on the issue date; names one character off
    secrecy.*       secrecy       classification marks and internal-only phrases
    personal.*      personal      resident ID numbers, mobile numbers, bank card numbers
    dates.*         dates         backdated publication, an issue date in the future
    links.*         links         dead links and attachments, redirects to another site
    a11y.*          a11y          alt text, heading order, table headers, link text, contrast
    channel.*       (channels)    each routed channel's check(), the existing pre-flight

Every rule yields `Problem`s (rule, severity block/warn, field, matched text, position,
suggestion). A block refuses the approval until the item is corrected; a warn refuses it
until a reviewer accepts it with a reason (`store.accept`, audited). Text is matched
width-folded and with spaces ignored (`text`).
"""

from publisher.editorial.checks.engine import ContentChecks, Report, check_subject
from publisher.editorial.checks.fields import Subject, subject_of
from publisher.editorial.checks.links import Fetcher, Probe
from publisher.editorial.checks.problem import Problem, Severity, Source

__all__ = [
    "ContentChecks",
    "Fetcher",
    "Probe",
    "Problem",
    "Report",
    "Severity",
    "Source",
    "Subject",
    "check_subject",
    "subject_of",
]
