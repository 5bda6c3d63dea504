"""Files and images given to OPENAICHAT: read (:mod:`.read`), identified by content
(:mod:`.sniff`), turned into text (:mod:`.extract`) or fitted (:mod:`.images`), and sent as
OpenAI-shaped content parts (:mod:`.parts`).
"""

from .images import ImageLimits
from .parts import (
    ANTHROPIC_IMAGES,
    DETAILS,
    Accepts,
    conceal_file_texts,
    content_part,
    data_url,
    placeholder,
)
from .read import CALL_LIMIT, Attachment, read_attachments

__all__ = ["ANTHROPIC_IMAGES", "CALL_LIMIT", "DETAILS", "Accepts", "Attachment", "ImageLimits",
           "conceal_file_texts", "content_part", "data_url", "placeholder", "read_attachments"]
