"""The CYBOS emulator's instrument master beyond the bundled list: more real KRX listings,
their Daishin industry (업종) codes, and the main index codes (U001 …).

Source: public KRX listing facts (code, name, market) as of 2025, with plausible base prices
rounded to 1,000 won (valid on every tick band); industries follow KRX's KOSPI sector index
classification, which CYBOS's 업종 codes mirror. Assembled 2026-12 for the emulator; a listing a
script needs and this master lacks can be added to the venue's own CSV. The runner joins these to
the bundled master; codes already there keep the bundled entry.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

from jango.domain.model import Code, Market
from jango.sandbox.instruments import InstrumentSpec

# (code, name, market, base price, 업종 code); ETFs have no 업종.
LISTINGS: tuple[tuple[str, str, Market, int, str], ...] = (
    ("008970", "KBI동양철관", Market.KOSPI, 1000, "011"),
    ("005950", "이수화학", Market.KOSPI, 12000, "008"),
    ("041830", "인바디", Market.KOSDAQ, 24000, "014"),
    ("003540", "대신증권", Market.KOSPI, 15000, "024"),
    ("000020", "동화약품", Market.KOSPI, 8000, "009"),
    ("000040", "KR모터스", Market.KOSPI, 1000, "015"),
    ("000050", "경방", Market.KOSPI, 8000, "006"),
    ("000885", "한화우", Market.KOSPI, 20000, "021"),
    ("005320", "국동", Market.KOSPI, 1000, "006"),
    ("000810", "삼성화재", Market.KOSPI, 350000, "025"),
    ("011170", "롯데케미칼", Market.KOSPI, 80000, "008"),
    ("000720", "현대건설", Market.KOSPI, 30000, "018"),
    ("024110", "기업은행", Market.KOSPI, 14000, "022"),
    ("138040", "메리츠금융지주", Market.KOSPI, 100000, "021"),
    ("009830", "한화솔루션", Market.KOSPI, 25000, "008"),
    ("011780", "금호석유", Market.KOSPI, 130000, "008"),
    ("078930", "GS", Market.KOSPI, 40000, "021"),
    ("000880", "한화", Market.KOSPI, 30000, "021"),
    ("004020", "현대제철", Market.KOSPI, 25000, "011"),
    ("001040", "CJ", Market.KOSPI, 100000, "021"),
    ("006260", "LS", Market.KOSPI, 110000, "021"),
    ("010120", "LS ELECTRIC", Market.KOSPI, 200000, "013"),
    ("267250", "HD현대", Market.KOSPI, 80000, "021"),
    ("047050", "포스코인터내셔널", Market.KOSPI, 50000, "016"),
    ("302440", "SK바이오사이언스", Market.KOSPI, 50000, "009"),
    ("011070", "LG이노텍", Market.KOSPI, 180000, "013"),
    ("032640", "LG유플러스", Market.KOSPI, 10000, "020"),
    ("021240", "코웨이", Market.KOSPI, 70000, "026"),
    ("161390", "한국타이어앤테크놀로지", Market.KOSPI, 40000, "015"),
    ("000120", "CJ대한통운", Market.KOSPI, 90000, "019"),
    ("139480", "이마트", Market.KOSPI, 70000, "016"),
    ("023530", "롯데쇼핑", Market.KOSPI, 65000, "016"),
    ("004170", "신세계", Market.KOSPI, 160000, "016"),
    ("069960", "현대백화점", Market.KOSPI, 50000, "016"),
    ("005830", "DB손해보험", Market.KOSPI, 100000, "025"),
    ("001450", "현대해상", Market.KOSPI, 30000, "025"),
    ("088350", "한화생명", Market.KOSPI, 3000, "025"),
    ("016360", "삼성증권", Market.KOSPI, 45000, "024"),
    ("039490", "키움증권", Market.KOSPI, 130000, "024"),
    ("071050", "한국금융지주", Market.KOSPI, 80000, "024"),
    ("005940", "NH투자증권", Market.KOSPI, 14000, "024"),
    ("008770", "호텔신라", Market.KOSPI, 50000, "016"),
    ("035250", "강원랜드", Market.KOSPI, 17000, "026"),
    ("036460", "한국가스공사", Market.KOSPI, 35000, "017"),
    ("180640", "한진칼", Market.KOSPI, 80000, "021"),
    ("020560", "아시아나항공", Market.KOSPI, 10000, "019"),
    ("042700", "한미반도체", Market.KOSPI, 100000, "012"),
    ("128940", "한미약품", Market.KOSPI, 300000, "009"),
    ("185750", "종근당", Market.KOSPI, 80000, "009"),
    ("002790", "아모레퍼시픽홀딩스", Market.KOSPI, 25000, "021"),
    ("051900", "LG생활건강", Market.KOSPI, 350000, "008"),
    ("282330", "BGF리테일", Market.KOSPI, 110000, "016"),
    ("007070", "GS리테일", Market.KOSPI, 22000, "016"),
    ("004990", "롯데지주", Market.KOSPI, 25000, "021"),
    ("000150", "두산", Market.KOSPI, 200000, "021"),
    ("241560", "두산밥캣", Market.KOSPI, 45000, "012"),
    ("064350", "현대로템", Market.KOSPI, 100000, "015"),
    ("079550", "LIG넥스원", Market.KOSPI, 250000, "013"),
    ("047810", "한국항공우주", Market.KOSPI, 60000, "015"),
    ("272210", "한화시스템", Market.KOSPI, 25000, "013"),
    ("010620", "HD현대미포", Market.KOSPI, 100000, "015"),
    ("298040", "효성중공업", Market.KOSPI, 400000, "013"),
    ("267260", "HD현대일렉트릭", Market.KOSPI, 300000, "013"),
    ("000990", "DB하이텍", Market.KOSPI, 40000, "013"),
    ("006280", "녹십자", Market.KOSPI, 130000, "009"),
    ("003230", "삼양식품", Market.KOSPI, 700000, "005"),
    ("004370", "농심", Market.KOSPI, 400000, "005"),
    ("000080", "하이트진로", Market.KOSPI, 20000, "005"),
    ("005300", "롯데칠성", Market.KOSPI, 120000, "005"),
    ("010060", "OCI홀딩스", Market.KOSPI, 60000, "008"),
    ("011790", "SKC", Market.KOSPI, 120000, "008"),
    ("014680", "한솔케미칼", Market.KOSPI, 130000, "008"),
    ("030520", "한글과컴퓨터", Market.KOSPI, 20000, "026"),
    ("108320", "LX세미콘", Market.KOSPI, 60000, "013"),
    ("068760", "셀트리온제약", Market.KOSDAQ, 70000, "009"),
    ("214150", "클래시스", Market.KOSDAQ, 50000, "014"),
    ("214450", "파마리서치", Market.KOSDAQ, 300000, "009"),
    ("095340", "ISC", Market.KOSDAQ, 60000, "013"),
    ("403870", "HPSP", Market.KOSDAQ, 30000, "013"),
    ("240810", "원익IPS", Market.KOSDAQ, 25000, "013"),
    ("036540", "SFA반도체", Market.KOSDAQ, 4000, "013"),
    ("034230", "파라다이스", Market.KOSDAQ, 13000, "026"),
    ("078600", "대주전자재료", Market.KOSDAQ, 80000, "013"),
    ("053800", "안랩", Market.KOSDAQ, 60000, "026"),
    ("036830", "솔브레인홀딩스", Market.KOSDAQ, 30000, "008"),
    ("086900", "메디톡스", Market.KOSDAQ, 150000, "009"),
    ("039200", "오스코텍", Market.KOSDAQ, 30000, "009"),
    ("141080", "리가켐바이오", Market.KOSDAQ, 100000, "009"),
    ("328130", "루닛", Market.KOSDAQ, 40000, "026"),
    ("338220", "뷰노", Market.KOSDAQ, 20000, "026"),
    ("035760", "CJ ENM", Market.KOSDAQ, 70000, "026"),
    ("122870", "와이지엔터테인먼트", Market.KOSDAQ, 50000, "026"),
    ("253450", "스튜디오드래곤", Market.KOSDAQ, 40000, "026"),
    ("046890", "서울반도체", Market.KOSDAQ, 8000, "013"),
    ("056190", "에스에프에이", Market.KOSDAQ, 20000, "012"),
    ("098460", "고영", Market.KOSDAQ, 14000, "013"),
    ("222800", "심텍", Market.KOSDAQ, 20000, "013"),
    ("064760", "티씨케이", Market.KOSDAQ, 90000, "013"),
    ("091160", "KODEX 반도체", Market.ETF, 40000, ""),
    ("091170", "KODEX 은행", Market.ETF, 10000, ""),
    ("278530", "KODEX 200TR", Market.ETF, 13000, ""),
    ("305720", "KODEX 2차전지산업", Market.ETF, 15000, ""),
    ("379800", "KODEX 미국S&P500TR", Market.ETF, 20000, ""),
    ("381170", "TIGER 미국테크TOP10 INDXX", Market.ETF, 25000, ""),
    ("233740", "KODEX 코스닥150레버리지", Market.ETF, 6000, ""),
    ("251340", "KODEX 코스닥150선물인버스", Market.ETF, 4000, ""),
    ("132030", "KODEX 골드선물(H)", Market.ETF, 19000, ""),
    ("261220", "KODEX WTI원유선물(H)", Market.ETF, 14000, ""),
    ("153130", "KODEX 단기채권", Market.ETF, 105000, ""),
)

# 업종 codes of the bundled master's stocks.
_BUNDLED_INDUSTRY: dict[str, str] = {
    "000100": "009",
    "000270": "015",
    "000660": "013",
    "0013V0": "005",
    "001510": "024",
    "003490": "019",
    "003550": "021",
    "003670": "008",
    "005380": "015",
    "005490": "011",
    "005930": "013",
    "005935": "013",
    "006400": "013",
    "006800": "024",
    "009150": "013",
    "009540": "015",
    "010130": "011",
    "010140": "015",
    "010950": "008",
    "011200": "019",
    "012330": "015",
    "012450": "015",
    "0126Z0": "009",
    "015760": "017",
    "017670": "020",
    "018260": "026",
    "028260": "021",
    "028300": "009",
    "030200": "020",
    "032830": "025",
    "033780": "005",
    "034020": "012",
    "034220": "013",
    "034730": "021",
    "035420": "026",
    "035720": "026",
    "035900": "026",
    "036570": "026",
    "036930": "013",
    "039030": "013",
    "041510": "026",
    "042660": "015",
    "047040": "018",
    "051910": "008",
    "055550": "021",
    "058470": "013",
    "066570": "013",
    "066970": "013",
    "068270": "009",
    "086520": "008",
    "086790": "021",
    "090430": "008",
    "096770": "008",
    "097950": "005",
    "105560": "021",
    "112040": "026",
    "145020": "009",
    "196170": "009",
    "207940": "009",
    "247540": "013",
    "251270": "026",
    "259960": "026",
    "263750": "026",
    "271560": "005",
    "277810": "012",
    "293490": "026",
    "316140": "021",
    "323410": "022",
    "329180": "015",
    "357780": "008",
    "373220": "013",
    "377300": "026",
}

# CYBOS 업종 codes (GetIndustryList) and names (GetIndustryName).
INDUSTRY_NAMES: dict[str, str] = {
    "001": "종합주가지수",
    "002": "대형",
    "003": "중형",
    "004": "소형",
    "005": "음식료품",
    "006": "섬유의복",
    "007": "종이목재",
    "008": "화학",
    "009": "의약품",
    "010": "비금속광물",
    "011": "철강금속",
    "012": "기계",
    "013": "전기전자",
    "014": "의료정밀",
    "015": "운수장비",
    "016": "유통업",
    "017": "전기가스업",
    "018": "건설업",
    "019": "운수창고",
    "020": "통신업",
    "021": "금융업",
    "022": "은행",
    "024": "증권",
    "025": "보험",
    "026": "서비스업",
    "027": "제조업",
}
_SECTORS = tuple(code for code in INDUSTRY_NAMES if code >= "005" and code != "027")


@dataclass(frozen=True, slots=True)
class IndexSpec:
    """A market index the emulator computes from its listings (capitalisation-weighted)."""

    code: str  # U + 3 digits
    name: str
    market: Market
    base_value: float
    size: str = ""  # "" every listing, else the 대형/중형/소형 class of the listings it follows


INDEXES: tuple[IndexSpec, ...] = (
    IndexSpec("U001", "종합(KOSPI)", Market.KOSPI, 2500.0),
    IndexSpec("U002", "대형주", Market.KOSPI, 2450.0, "1"),
    IndexSpec("U003", "중형주", Market.KOSPI, 2900.0, "2"),
    IndexSpec("U004", "소형주", Market.KOSPI, 2200.0, "3"),
    IndexSpec("U180", "코스피200", Market.KOSPI, 330.0, "1"),
    IndexSpec("U201", "코스닥종합", Market.KOSDAQ, 750.0),
)


def extra_instruments(existing: set[str]) -> list[InstrumentSpec]:
    """The listings above whose codes are not in ``existing``."""
    return [
        InstrumentSpec(Code(code), name, market, base)
        for code, name, market, base, _ in LISTINGS
        if code not in existing
    ]


def industry_of(code: str, market: Market) -> str:
    """The 업종 code of a stock (``""`` for ETF/ETN/ELW); a code no table lists gets a sector
    picked by its code's checksum, so it stays the same on every run."""
    if market in (Market.ETF, Market.ETN, Market.ELW):
        return ""
    for listed, _, _, _, industry in LISTINGS:
        if listed == code:
            return industry
    known = _BUNDLED_INDUSTRY.get(code)
    if known is not None:
        return known
    return _SECTORS[zlib.crc32(code.encode()) % len(_SECTORS)]
