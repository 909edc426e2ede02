"""What a freepublish `publish_status` means for the delivery (same for polling and callbacks).

https://developers.weixin.qq.com/doc/offiaccount/Publish/Get_status.html: 0 success,
1 publishing, 2 originality check failed, 3 normal failure, 4 platform review failed,
5 deleted by the user after success, 6 banned by the system after success.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from channels.base import Confirmation

FAILED = {
    2: "原创声明校验未通过 / originality check failed",
    3: "发布失败 / publish failed",
    4: "平台审核未通过 / platform review failed",
}
AFTER_SUCCESS = {
    5: "发布成功后已被删除 / deleted from the account after publishing",
    6: "发布成功后被微信封禁 / banned by WeChat after publishing",
}
MASS_STATUS = {
    "SEND_FAIL": "群发失败 / broadcast failed",
    "DELETE": "群发消息已被删除 / broadcast deleted",
}


def confirmation_for(
    status: int,
    *,
    publish_id: str,
    article_id: str | None = None,
    urls: Sequence[str] = (),
    fail_idx: Sequence[int] = (),
) -> Confirmation | None:
    data: Mapping[str, Any] = {
        "publish_id": publish_id,
        "publish_status": status,
        "article_id": article_id,
        "article_urls": list(urls),
        "fail_idx": list(fail_idx),
    }
    if status == 1:
        return None
    if status == 0:
        return Confirmation(delivered=True, url=urls[0] if urls else None, data=data)
    if status in AFTER_SUCCESS:
        return Confirmation(
            delivered=True, url=urls[0] if urls else None, data=data, flag=AFTER_SUCCESS[status]
        )
    reason = FAILED.get(status, f"未知发布状态 / unknown publish status {status}")
    if fail_idx:
        reason += (
            f"（第 {'、'.join(str(i) for i in fail_idx)} 篇 / article {', '.join(str(i) for i in fail_idx)}）"
        )
    return Confirmation(delivered=False, error=reason, data=data)
