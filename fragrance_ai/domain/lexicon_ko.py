"""Korean words for the brief parser, each mapped to the English term the parser already
knows: a family key, a material (catalogue name), a note word (note_words), a mood, season,
intensity or product. Korean attaches particles to nouns (시트러스와, 머스크는), so these are
matched inside words, not between word boundaries: keep each entry specific enough that it
cannot be part of an unrelated word."""

from __future__ import annotations

from fragrance_ai.domain.products import ProductType

FAMILIES_KO: dict[str, str] = {
    "시트러스": "citrus", "시트러시": "citrus", "감귤": "citrus", "상큼": "citrus",
    "플로럴": "floral", "꽃향": "floral", "꽃 향": "floral", "화이트 플로럴": "floral",
    "우디": "woody", "나무향": "woody", "나무 향": "woody", "숲": "woody", "우드": "oud",
    "오우드": "oud", "앰버": "amber", "엠버": "amber", "오리엔탈": "amber", "레진": "amber",
    "발사믹": "amber", "프레시": "fresh", "프레쉬": "fresh", "산뜻": "fresh", "깨끗": "fresh",
    "청량": "fresh", "그린": "green", "풀내음": "green", "풀 내음": "green", "풀향": "green",
    "아쿠아": "aquatic", "마린": "aquatic", "바다": "aquatic", "오션": "aquatic",
    "프루티": "fruity", "과일": "fruity", "과즙": "fruity", "스파이시": "spicy",
    "향신료": "spicy", "스파이스": "spicy", "구르망": "gourmand", "달콤": "gourmand",
    "디저트": "gourmand", "아로마틱": "aromatic", "허브": "aromatic", "푸제르": "aromatic",
    "시프레": "chypre", "이끼": "chypre", "머스크": "musky", "머스키": "musky", "살냄새": "musky",
    "살결": "musky", "레더": "leather", "가죽": "leather", "스웨이드": "leather",
    "파우더리": "powdery", "파우더": "powdery", "분내": "powdery",
}  # fmt: skip

# Korean names of materials (catalogue names) and of note words (English keys of NOTE_WORDS).
NOTES_KO: dict[str, str] = {
    "베르가못": "Bergamot oil", "레몬": "Lemon oil", "라임": "Lime oil distilled",
    "자몽": "Grapefruit oil", "그레이프프루트": "Grapefruit oil", "만다린": "Mandarin oil",
    "오렌지": "Sweet orange oil", "귤": "Mandarin oil", "네롤리": "Neroli oil",
    "오렌지 블라썸": "Orange flower absolute", "오렌지블라썸": "Orange flower absolute",
    "오렌지 꽃": "Orange flower absolute", "토마토 잎": "tomato leaf", "토마토잎": "tomato leaf",
    "쁘띠그레인": "Petitgrain bigarade oil", "장미": "Rose oil", "로즈": "Rose oil",
    "자스민": "Jasmine absolute", "재스민": "Jasmine absolute", "일랑일랑": "Ylang ylang oil",
    "튜베로즈": "Tuberose absolute", "제라늄": "Geranium oil", "아이리스": "Orris butter",
    "오리스": "Orris butter", "바이올렛": "Alpha-isomethyl ionone",
    "제비꽃": "Alpha-isomethyl ionone", "은방울꽃": "Hydroxycitronellal",
    "뮤게": "Hydroxycitronellal", "미모사": "Mimosa absolute", "금목서": "Osmanthus absolute",
    "오스만투스": "Osmanthus absolute", "라벤더": "Lavender oil", "로즈마리": "Rosemary oil",
    "민트": "Peppermint oil", "페퍼민트": "Peppermint oil", "바질": "Basil oil",
    "세이지": "Clary sage oil", "유칼립투스": "Eucalyptus oil", "샌달우드": "Sandalwood oil",
    "백단향": "Sandalwood oil", "시더우드": "Cedarwood oil Virginia",
    "삼나무": "Cedarwood oil Virginia", "베티버": "Vetiver oil", "패출리": "Patchouli oil",
    "파출리": "Patchouli oil", "오크모스": "Oakmoss absolute", "편백": "hinoki",
    "히노키": "hinoki", "소나무": "Scots pine needle oil", "사이프러스": "Cypress oil",
    "주니퍼": "Juniper berry oil", "바닐라": "Vanillin", "통카": "Coumarin", "통카빈": "Coumarin",
    "벤조인": "Benzoin resinoid", "라브다넘": "Labdanum resinoid", "유향": "Olibanum oil",
    "프랑킨센스": "Olibanum oil", "인센스": "Olibanum oil", "몰약": "Myrrh oil",
    "카다멈": "Cardamom oil", "카르다몸": "Cardamom oil", "핑크페퍼": "Pink pepper oil",
    "핑크 페퍼": "Pink pepper oil", "후추": "Black pepper oil", "블랙페퍼": "Black pepper oil",
    "시나몬": "Cinnamaldehyde", "계피": "Cinnamaldehyde", "정향": "Clove bud oil",
    "생강": "Ginger oil", "진저": "Ginger oil", "넛맥": "Nutmeg oil", "사프란": "Safranal",
    "담배": "tobacco", "담뱃잎": "tobacco", "타바코": "tobacco", "릴리알": "Lilial",
    "랍다넘": "Labdanum resinoid", "커피": "coffee", "초콜릿": "chocolate",
    "카카오": "cocoa", "복숭아": "Gamma-undecalactone", "피치": "Gamma-undecalactone",
    "카라멜": "Ethyl maltol", "캐러멜": "Ethyl maltol", "솜사탕": "Ethyl maltol",
    "블랙커런트": "blackcurrant", "카시스": "cassis", "라즈베리": "raspberry", "무화과": "fig",
    "무화과잎": "fig leaf", "무화과 잎": "fig leaf", "배향": "pear", "서양배": "pear",
    "사과": "apple", "풋사과": "green apple", "자두": "plum", "체리": "cherry",
    "딸기": "strawberry", "망고": "mango", "파인애플": "pineapple", "수박": "watermelon",
    "멜론": "melon", "코코넛": "coconut", "유자": "yuzu", "바다소금": "sea salt",
    "바다 소금": "sea salt", "씨솔트": "sea salt", "소금": "salt", "빗물": "rain",
    "비 냄새": "rain", "꿀": "honey", "아몬드": "almond", "피스타치오": "pistachio",
    "우유": "milk", "밀크": "milk", "캐시미어": "cashmere", "가드니아": "gardenia",
    "치자": "gardenia", "백합": "lily", "목련": "magnolia", "작약": "peony", "피오니": "peony",
    "프리지아": "freesia", "연꽃": "lotus", "벚꽃": "cherry blossom", "녹차": "green tea",
    "말차": "matcha", "홍차": "tea", "위스키": "whisky", "와인": "wine", "샴페인": "champagne",
    "오이": "cucumber", "대나무": "bamboo", "전나무": "fir", "앰버그리스": "ambergris",
    "용연향": "ambergris",
}  # fmt: skip

MOODS_KO: dict[str, str] = {
    "로맨틱": "romantic", "낭만": "romantic", "관능": "sensual", "섹시": "sensual",
    "우아": "elegant", "세련": "elegant", "고급스러운": "luxurious", "럭셔리": "luxurious",
    "발랄": "playful", "경쾌": "playful", "활기": "energetic", "에너지": "energetic",
    "스포티": "energetic", "기분 좋은": "uplifting", "밝은": "uplifting", "행복": "uplifting",
    "차분": "calm", "편안": "calm", "힐링": "calm", "포근": "cozy", "아늑": "cozy",
    "따뜻한": "cozy", "신비": "mysterious", "몽환": "mysterious", "자신감": "confident",
    "당당": "confident", "레트로": "nostalgic", "빈티지": "nostalgic", "추억": "nostalgic",
    "모던": "modern", "미니멀": "modern", "현대적": "modern",
}  # fmt: skip

SEASONS_KO: dict[str, str] = {
    "봄": "spring", "여름": "summer", "한여름": "summer", "가을": "autumn", "겨울": "winter",
    "크리스마스": "winter",
}  # fmt: skip

INTENSITY_KO: dict[str, str] = {
    "가벼운": "light", "가볍게": "light", "가볍고": "light", "은은": "light", "잔잔": "light",
    "부드러운": "light", "데일리": "moderate", "적당": "moderate", "무난": "moderate",
    "강한": "strong", "강렬": "strong", "진한": "strong", "진하게": "strong", "묵직": "strong",
    "지속력": "strong", "오래 가는": "strong", "오래가는": "strong",
}  # fmt: skip

PRODUCTS_KO: dict[str, ProductType] = {
    "오 드 퍼퓸": ProductType.EDP, "오드퍼퓸": ProductType.EDP, "오 드 뚜왈렛": ProductType.EDT,
    "오드뚜왈렛": ProductType.EDT, "오드 뚜왈렛": ProductType.EDT, "오 드 코롱": ProductType.EDC,
    "오드코롱": ProductType.EDC, "코롱": ProductType.EDC, "퍼퓸 엑스트레": ProductType.PARFUM,
    "엑스트레": ProductType.PARFUM, "바디로션": ProductType.BODY_LOTION,
    "바디 로션": ProductType.BODY_LOTION, "캔들": ProductType.CANDLE, "향초": ProductType.CANDLE,
    "양초": ProductType.CANDLE, "핸드크림": ProductType.HAND_CREAM,
    "핸드 크림": ProductType.HAND_CREAM, "페이스 크림": ProductType.FACE_CREAM,
    "수분크림": ProductType.FACE_CREAM, "데오드란트": ProductType.DEODORANT,
    "헤어 스프레이": ProductType.HAIR_SPRAY, "샴푸": ProductType.SHAMPOO,
    "샤워젤": ProductType.SHOWER_GEL, "바디워시": ProductType.SHOWER_GEL,
    "바디 워시": ProductType.SHOWER_GEL, "고체비누": ProductType.SOAP,
    "고체 비누": ProductType.SOAP, "디퓨저": ProductType.REED_DIFFUSER,
    "세탁세제": ProductType.LAUNDRY_DETERGENT, "세제": ProductType.LAUNDRY_DETERGENT,
    "섬유유연제": ProductType.FABRIC_SOFTENER, "섬유 유연제": ProductType.FABRIC_SOFTENER,
    "룸스프레이": ProductType.AIR_FRESHENER_SPRAY, "룸 스프레이": ProductType.AIR_FRESHENER_SPRAY,
    "방향제": ProductType.AIR_FRESHENER_SPRAY,
}  # fmt: skip

# "패출리 없이", "오크모스는 빼고": in Korean the word that forbids follows what it forbids.
AVOID_AFTER_KO = ("없이", "없는", "빼고", "빼주", "제외", "말고", "싫어", "넣지", "금지")
# Conjunctions that join a list of forbidden things ("패출리와 오크모스 없이").
LIST_JOINERS_KO = ("와", "과", "나", "이나", "랑", "이랑", "하고", ",", "및")
ECONOMY_KO = ("저렴", "저가", "가성비", "싼 ", "싸게", "경제적")
