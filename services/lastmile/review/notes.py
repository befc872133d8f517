"""The notes a review prints under its tables, in both editions (lastmile.review.i18n).

A note in the review dict is ``{"zh": ..., "en": ...}``; sources and figures add them.
"""

from __future__ import annotations

from lastmile.review.i18n import Text

CARRIER_FILTER_ON_DWELL = Text(
    "各层级停留时间与滞留件按全部品牌统计（品牌筛选不适用）。",
    "dwell and stuck parcels are for all carriers (a carrier filter does not apply)",
)
REDIS_NO_DWELL = Text(
    "各层级停留时间与滞留超过48小时的包裹：Redis 读模型中没有（请用事件日志重放）。",
    "dwell at each tier and parcels stuck > 48 h: not in the Redis read models (replay the log)",
)
REDIS_COVERAGE_UNDETERMINED = Text(
    "通达率与品牌融合：Redis 只保存每个村、每个品牌的最新时间，最新投递晚于统计窗口的村记为"
    "“无法判定”。",
    "coverage and brand fusion: Redis keeps only the newest time per village / carrier, so a "
    "village whose newest delivery is after the window is counted as undetermined",
)
REDIS_BRANDS_LATER = Text(
    "乡镇 {towns} 的品牌融合：最后一次扫描晚于统计期的品牌，统计期内也可能扫描过"
    "（Redis 只保存最新扫描时间）。",
    "brand fusion of towns {towns}: a carrier last seen after the period may also have scanned "
    "in it (Redis keeps only the newest scan time)",
)
