"""A synthetic DummyJSON catalog of any size, in the current (194-product) shape.

``generate_catalog(count, seed)`` is deterministic for a seed and keeps the traps of the real
data (see ``sync_pipeline/data/dummyjson/README.md``):

- the 24 real categories, spread by their real counts (``count=194`` gives exactly the real
  counts) and sorted by category like ``products.json``; ids run 1..count in that order;
- no ``brand`` key at all in the brandless categories (groceries, kitchen-accessories, ...);
- a small share of products (1%, at least one when ``count >= 2``) reuse an earlier
  product's title, sometimes across categories, and titles contain ``'``, ``&`` and ``.``;
- prices in dollars with at most 2 decimals, mostly ending in ``.99``, some whole numbers
  (written as JSON ints), over about the real range (0.79 ... 36999.99);
- int values in float fields now and then (``price``, ``discountPercentage``, ``rating``,
  ``dimensions``);
- unique ``sku`` (``AAA-AAA-AAA-000``, wider numbers past id 999), unique 13-digit barcodes,
  image URLs unique across the catalog, thumbnail not among ``images``;
- ``availabilityStatus`` follows ``stock``: 0 is "Out of Stock", 1-7 "Low Stock".

Self-contained: all constants are here; nothing is read from the shared data at run time.
"""

from __future__ import annotations

import json
import math
import os
import random
import re
import tempfile
from pathlib import Path
from typing import Any

__all__ = ["CATEGORY_COUNTS", "BRANDLESS_CATEGORIES", "generate_catalog", "write_catalog"]

IMAGE_BASE = "https://cdn.dummyjson.com/product-images"
QR_CODE_URL = "https://cdn.dummyjson.com/public/qr-code.png"
TIMESTAMPS = ("2025-04-30T09:41:02.053Z", "2025-04-30T09:41:02.054Z")
DUPLICATE_TITLE_SHARE = 0.01


# (slug, count in the real data, brands or () when the category has none, price range,
#  main tags, other tags, nouns, what one item is called in a description, uses)
_CATEGORY_SPECS: tuple[tuple[Any, ...], ...] = (
    (
        "beauty", 5,
        ("Essence", "Glamour Beauty", "Velvet Touch", "Chic Cosmetics", "Nail Couture"),
        (5.0, 20.0), ("beauty",),
        ("mascara", "eyeshadow", "face powder", "lipstick", "nail polish"),
        ("Mascara", "Eyeshadow Palette", "Powder Canister", "Lipstick", "Nail Polish", "Blush",
         "Eyeliner", "Lip Gloss", "Foundation", "Highlighter"),
        "beauty product", ("for a flawless everyday look", "with long-lasting colour"),
    ),
    (
        "fragrances", 5, ("Calvin Klein", "Chanel", "Dior", "Dolce & Gabbana", "Gucci"),
        (29.0, 130.0), ("fragrances", "perfumes"), ("luxury", "unisex", "men's", "women's"),
        ("Eau de Parfum", "Eau de Toilette", "Cologne", "J'adore", "Coco Noir", "Bloom",
         "Intense", "Body Mist"),
        "fragrance", ("with notes of citrus and amber", "for day and evening wear"),
    ),
    (
        "furniture", 5, ("Annibale Colombo", "Furniture Co.", "Knoll", "Bath Trends"),
        (299.0, 2500.0), ("furniture",), ("beds", "sofas", "chairs", "bathroom", "tables"),
        ("Bed", "Sofa", "Bedside Table", "Office Chair", "Bathtub", "Dining Table", "Bookcase",
         "Wardrobe"),
        "piece of furniture", ("crafted from solid wood", "that adds comfort to any room"),
    ),
    (
        "groceries", 27, (), (0.79, 15.0), ("groceries",),
        ("fruits", "vegetables", "meat", "seafood", "dairy", "beverages", "pet supplies",
         "cooking essentials"),
        ("Apple", "Beef Steak", "Cat Food", "Chicken Meat", "Cooking Oil", "Cucumber", "Dog Food",
         "Eggs", "Fish Steak", "Green Bell Pepper", "Green Chili Pepper", "Honey Jar",
         "Ice Cream", "Juice", "Kiwi", "Lemon", "Milk", "Mulberry", "Nescafe Coffee", "Potatoes",
         "Protein Powder", "Red Onions", "Rice", "Soft Drinks", "Strawberry", "Tissue Paper",
         "Water", "Garlic", "Yogurt", "Oats"),
        "grocery item", ("perfect for sautéing and roasting", "sourced fresh from local farms",
                         "for a healthy & balanced diet"),
    ),
    (
        "home-decoration", 5, (), (9.0, 60.0), ("home decor",),
        ("decorations", "lighting", "plants", "wall art"),
        ("Decoration Swing", "Family Tree Photo Frame", "House Showpiece Plant", "Plant Pot",
         "Table Lamp", "Wall Clock", "Vase", "Candle Holder"),
        "decorative piece", ("that brightens up your living space", "with a rustic finish"),
    ),
    (
        "kitchen-accessories", 30, (), (1.99, 80.0), ("kitchen",),
        ("kitchen appliances", "kitchen tools", "cookware", "utensils", "dishware"),
        ("Bamboo Spatula", "Black Aluminium Cup", "Black Whisk", "Boxed Blender",
         "Carbon Steel Wok", "Chopping Board", "Citrus Squeezer", "Egg Slicer", "Electric Stove",
         "Fine Mesh Strainer",
         "Fork", "Glass", "Grater", "Hand Blender", "Ice Cube Tray", "Kitchen Sieve", "Knife",
         "Lunch Box", "Microwave Oven", "Mug Tree Stand", "Pan", "Plate", "Red Tongs",
         "Silver Pot With Glass Cap", "Slotted Turner", "Spice Rack", "Spoon", "Tray",
         "Wooden Rolling Pin", "Yellow Peeler"),
        "kitchen tool", ("perfect for sautéing and stir-frying", "that is easy to clean",
                         "for everyday cooking & baking"),
    ),
    (
        "laptops", 5, ("Apple", "Asus", "Huawei", "Lenovo", "Dell"),
        (899.0, 2500.0), ("laptops",), ("computers", "gaming laptops", "ultrabooks", "apple"),
        ("MacBook Pro 14 Inch", "Zenbook Pro Dual Screen", "Matebook X Pro", "Yoga 920",
         "XPS 8940", "ThinkPad X1", "VivoBook 15", "Chromebook Plus"),
        "laptop", ("with a stunning display and long battery life", "for work and play"),
    ),
    (
        "mens-shirts", 5, ("Fashion Trends", "Urban Chic", "Casual Comfort", "Classic Wear"),
        (19.0, 40.0), ("clothing", "men's shirts"), ("casual wear", "formal wear", "t-shirts"),
        ("Check Shirt", "Gigabyte Aorus Men Tshirt", "Man Plaid Shirt", "Short Sleeve Shirt",
         "Slim Fit Shirt", "Linen Shirt", "Polo Shirt", "Denim Shirt"),
        "shirt", ("made from breathable cotton", "with a modern slim fit"),
    ),
    (
        "mens-shoes", 5, ("Nike", "Puma", "Off White"),
        (39.0, 200.0), ("footwear", "men's shoes"), ("athletic shoes", "sneakers", "boots"),
        ("Air Jordan 1", "Running Shoes", "Sports Sneakers", "Leather Boots", "Loafers",
         "Trainers", "High Tops", "Slip-Ons"),
        "pair of shoes", ("with extra cushioning for all-day comfort", "for sport and street"),
    ),
    (
        "mens-watches", 6, ("Fashion Timepieces", "Rolex", "Longines"),
        (99.0, 13000.0), ("watches", "men's watches"), ("luxury watches", "leather straps"),
        ("Brown Leather Belt Watch", "Cellini Date", "Cellini Moonphase", "Submariner Watch",
         "Master Collection", "Chronograph", "Diver Watch", "Dress Watch"),
        "watch", ("with a precise automatic movement", "built to last a lifetime"),
    ),
    (
        "mobile-accessories", 14,
        ("Amazon", "Apple", "Beats", "GadgetMaster", "ProVision", "SnapTech", "TechGear"),
        (9.0, 500.0), ("electronics",), ("chargers", "earphones", "cases", "smartwatches", "audio"),
        ("AirPods", "Echo Plus", "Charger Cable", "Selfie Stick", "Power Bank", "Phone Case",
         "Wireless Charger", "Earphones", "Smart Watch", "Tripod", "Monopod", "Headphones"),
        "accessory", ("that keeps you connected on the go", "with fast charging support"),
    ),
    (
        "motorcycle", 5, ("Generic Motors", "Kawasaki", "MotoGP", "ScootMaster", "SpeedMaster"),
        (1799.0, 8000.0), ("motorcycle",), ("sports bikes", "scooters", "vehicles"),
        ("Chopper", "Racing Bike CI.H1", "Scooter", "Sportbike", "Cruiser", "Dirt Bike",
         "Street Bike", "Touring Bike"),
        "motorcycle", ("with a powerful engine and sleek design", "for the open road"),
    ),
    (
        "skin-care", 3, ("Olay", "Vaseline", "Attitude"),
        (7.99, 25.0), ("skin care",), ("lotions", "sunscreen", "body wash", "moisturizers"),
        ("Body Lotion", "Super Leaves Hand Soap", "Sunscreen SPF 50", "Face Cream", "Body Wash",
         "Night Serum"),
        "skin care product", ("that hydrates and nourishes", "for soft, smooth skin"),
    ),
    (
        "smartphones", 16, ("Apple", "Oppo", "Realme", "Samsung", "Vivo"),
        (99.0, 1500.0), ("smartphones",), ("android", "ios", "5g", "budget phones"),
        ("iPhone 13 Pro", "iPhone X", "Galaxy S10", "Galaxy S8", "F19 Pro Plus", "K1", "C35",
         "X50", "XT", "S1", "V9", "Y11", "Galaxy S7", "iPhone 6", "iPhone 5s", "Reno 5"),
        "smartphone", ("with an advanced camera system", "with a long-lasting battery"),
    ),
    (
        "sports-accessories", 17, (), (4.99, 350.0), ("sports",),
        ("fitness equipment", "football", "cricket", "tennis", "golf", "basketball"),
        ("American Football", "Baseball Ball", "Baseball Glove", "Basketball",
         "Basketball Rim", "Cricket Ball", "Cricket Bat", "Cricket Helmet", "Cricket Wicket",
         "Feather Shuttlecock", "Football", "Golf Ball", "Iron Golf", "Metal Baseball Bat",
         "Tennis Ball", "Tennis Racket", "Volleyball"),
        "piece of sports equipment",
        ("built for training and competition", "for players of all levels"),
    ),
    (
        "sunglasses", 5, ("Fashion Shades", "Fashion Fun"),
        (14.99, 60.0), ("accessories", "sunglasses"), ("fashion accessories", "eyewear"),
        ("Black Sun Glasses", "Classic Sun Glasses", "Green and Black Glasses",
         "Party Glasses", "Sunglasses", "Aviators", "Round Frames"),
        "pair of sunglasses", ("with UV protection", "that completes any outfit"),
    ),
    (
        "tablets", 3, ("Apple", "Samsung"),
        (249.0, 1000.0), ("tablets",), ("electronics", "ios", "android"),
        ("iPad Mini 2021 Starlight", "Galaxy Tab S8 Plus Grey", "Galaxy Tab White", "iPad Air",
         "Galaxy Tab A"),
        "tablet", ("with a vivid display", "for work, study & play"),
    ),
    (
        "tops", 5, (), (19.0, 50.0), ("clothing",), ("women's tops", "blouses", "shirts"),
        ("Blue Frock", "Girl Summer Dress", "Gray Dress", "Short Frock", "Tartan Dress",
         "Cropped Top", "Tank Top", "Blouse"),
        "top", ("made from soft, breathable fabric", "for a relaxed summer look"),
    ),
    (
        "vehicle", 5, ("Chrysler", "Dodge"),
        (15000.0, 37000.0), ("vehicles",), ("cars", "suvs", "minivans", "sedans"),
        ("300 Touring", "Charger SXT RWD", "Hemi Charger 5.7", "Pacifica Touring", "Durango SXT",
         "Grand Caravan"),
        "vehicle", ("with a spacious interior and smooth ride", "for the whole family"),
    ),
    (
        "womens-bags", 5, ("Elegance Collection", "Heshe", "Prada", "Fashionista", "Urban Chic"),
        (39.0, 1000.0), ("fashion", "women's bags"), ("handbags", "shoulder bags", "leather"),
        ("Blue Women's Handbag", "Women's Leather Bag", "Women's Handbag Black",
         "Women Handbag Black", "White Faux Leather Backpack", "Tote Bag", "Clutch"),
        "bag", ("with plenty of room for essentials", "crafted from premium leather"),
    ),
    (
        "womens-dresses", 5, (), (39.0, 130.0), ("clothing", "women's dresses"),
        ("dresses", "evening wear", "summer"),
        ("Black Women's Gown", "Corset Leather With Skirt", "Corset With Black Skirt",
         "Dress Pea", "Marni Red & Black Suit", "Maxi Dress", "Wrap Dress"),
        "dress", ("for evenings and special occasions", "with an elegant silhouette"),
    ),
    (
        "womens-jewellery", 3, (), (19.0, 90.0), ("jewellery",),
        ("necklaces", "earrings", "rings", "women's jewellery"),
        ("Green Crystal Earring", "Green Oval Earring", "Tropical Earring", "Pearl Necklace",
         "Silver Ring"),
        "piece of jewellery", ("that sparkles in any light", "for a touch of elegance"),
    ),
    (
        "womens-shoes", 5,
        ("Calvin Klein", "Comfort Trends", "Fashion Diva", "Fashion Express", "Pampi"),
        (29.0, 250.0), ("footwear", "women's shoes"), ("heels", "flats", "sneakers"),
        ("Black & Brown Slipper", "Heel Shoes", "Golden Shoes Woman", "Pampi Shoes",
         "Red Shoes", "Ballet Flats", "Ankle Boots"),
        "pair of shoes", ("with a comfortable cushioned sole", "for a stylish step"),
    ),
    (
        "womens-watches", 5, ("Fashion Co.", "Fashion Gold", "IWC", "Rolex"),
        (49.0, 16000.0), ("watches", "women's watches"), ("luxury watches", "fashion accessories"),
        ("Ingenious Women's Watch", "Cellini Moonphase", "Datejust Women", "Watch Gold for Women",
         "Women's Wrist Watch", "Rose Gold Watch"),
        "watch", ("with a refined, timeless design", "with a sapphire crystal face"),
    ),
)  # fmt: skip

CATEGORY_COUNTS: dict[str, int] = {spec[0]: spec[1] for spec in _CATEGORY_SPECS}
BRANDLESS_CATEGORIES: frozenset[str] = frozenset(spec[0] for spec in _CATEGORY_SPECS if not spec[2])

_ADJECTIVES = (
    "Classic", "Premium", "Deluxe", "Essential", "Modern", "Vintage", "Organic", "Compact",
    "Elegant", "Eco", "Ultra", "Smart", "Luxury", "Everyday", "Signature", "Pro", "Lite",
    "Black", "White", "Red", "Blue", "Green", "Golden", "Silver", "Rose Gold", "Grey",
    "Men's", "Women's", "Kids'", "Black & White", "Red & Black", "Mr. Fresh", "Dr. Smith's",
)  # fmt: skip
_VARIANTS = ("II", "Plus", "Max", "Mini", "2024", "XL", "Edition", "Series 2", "S", "Neo")
_QUALITIES = (
    "popular", "stylish", "reliable", "high-quality", "versatile", "durable", "premium",
    "lightweight", "elegant", "practical", "handy", "modern",
)  # fmt: skip
_CLOSINGS = (
    "A great choice for everyday use.",
    "Designed for comfort and durability.",
    "Easy to use & built to last.",
    "Makes a thoughtful gift.",
    "Enjoy quality you can rely on.",
    "Loved by customers around the world.",
    "Simple, practical and good value.",
)
_POSITIVE_COMMENTS = (
    "Fast shipping!", "Highly recommended!", "Very satisfied!", "Highly impressed!",
    "Would buy again!", "Excellent quality!", "Awesome product!", "Very happy with my purchase!",
    "Great product!", "Great value for money!", "Very pleased!",
)  # fmt: skip
_NEGATIVE_COMMENTS = (
    "Would not recommend!", "Poor quality!", "Very disappointed!", "Would not buy again!",
    "Not as described!", "Not worth the price!", "Disappointing product!", "Waste of money!",
    "Very dissatisfied!", "Very unhappy with my purchase!",
)  # fmt: skip
_FIRST_NAMES = (
    "Eleanor", "Lucas", "Lincoln", "Savannah", "James", "Aria", "Mason", "Scarlett", "Logan",
    "Chloe", "Henry", "Zoe", "Owen", "Nora", "Levi", "Layla", "Caleb", "Hazel", "Wyatt",
    "Stella", "Jack", "Violet", "Leo", "Aurora", "Isaac", "Lily", "Julian", "Hannah",
)  # fmt: skip
_LAST_NAMES = (
    "Collins", "Gordon", "Kelly", "Gomez", "Davis", "Flores", "Hughes", "Price", "Reed",
    "Morgan", "Bennett", "Perry", "Ward", "Cooper", "Foster", "Myers", "Ross", "Powell",
    "Ramirez", "Sanders", "Wright", "Turner", "Jenkins", "Barnes", "Fisher", "Hayes",
)  # fmt: skip
# (value, weight from the real data)
_WARRANTIES = (
    ("1 year warranty", 31), ("3 year warranty", 28), ("1 month warranty", 24),
    ("2 year warranty", 20), ("3 months warranty", 19), ("Lifetime warranty", 17),
    ("6 months warranty", 16), ("5 year warranty", 14), ("1 week warranty", 13),
    ("No warranty", 12),
)  # fmt: skip
_SHIPPING = (
    ("Ships overnight", 41), ("Ships in 1-2 business days", 34), ("Ships in 1 week", 32),
    ("Ships in 2 weeks", 31), ("Ships in 1 month", 30), ("Ships in 3-5 business days", 26),
)  # fmt: skip
_RETURN_POLICIES = (
    ("7 days return policy", 50), ("No return policy", 44), ("60 days return policy", 35),
    ("90 days return policy", 34), ("30 days return policy", 31),
)  # fmt: skip
_IMAGE_COUNTS = ((1, 78), (2, 8), (3, 62), (4, 41), (5, 2), (6, 5))


def _split_weights(pairs: tuple[tuple[Any, int], ...]) -> tuple[list[Any], list[int]]:
    return [value for value, _ in pairs], [weight for _, weight in pairs]


_WARRANTY_CHOICES = _split_weights(_WARRANTIES)
_SHIPPING_CHOICES = _split_weights(_SHIPPING)
_RETURN_CHOICES = _split_weights(_RETURN_POLICIES)
_IMAGE_COUNT_CHOICES = _split_weights(_IMAGE_COUNTS)


def allocate_categories(count: int) -> list[str]:
    """``count`` category slugs, in the real file's order, proportional to the real counts
    (largest remainder; ties go to the bigger, then earlier, category)."""
    total = sum(CATEGORY_COUNTS.values())
    quotas = {slug: count * real / total for slug, real in CATEGORY_COUNTS.items()}
    shares = {slug: math.floor(quota) for slug, quota in quotas.items()}
    left = count - sum(shares.values())
    order = sorted(
        CATEGORY_COUNTS,
        key=lambda slug: (-(quotas[slug] - shares[slug]), -CATEGORY_COUNTS[slug]),
    )
    for slug in order[:left]:
        shares[slug] += 1
    return [slug for slug in CATEGORY_COUNTS for _ in range(shares[slug])]


def _letters(text: str) -> str:
    return re.sub(r"[^A-Za-z]", "", text)[:3].upper().ljust(3, "X")


def _image_slug(title: str) -> str:
    # Like the real URLs: lower case, spaces to dashes, punctuation kept ("dior-j'adore").
    return "-".join(title.lower().split())


def _money(rng: random.Random, low: float, high: float) -> float | int:
    """A price between about ``low`` and ``high``: mostly x.99, some x.49/x.29/x.79, some whole."""
    value = math.exp(rng.uniform(math.log(low), math.log(high)))
    whole = int(value)
    roll = rng.random()
    if roll < 0.90:
        return round(whole + 0.99, 2)
    if roll < 0.95:
        price = round(whole + rng.choice((0.29, 0.49, 0.79)), 2)
        return price if price >= low else round(whole + 0.99, 2)
    return max(1, round(value))


def _decimal(rng: random.Random, low: float, high: float, int_share: float) -> float | int:
    if rng.random() < int_share:
        return rng.randint(math.ceil(low), math.floor(high))
    return round(rng.uniform(low, high), 2)


_SPECS_BY_SLUG: dict[str, tuple[Any, ...]] = {spec[0]: spec for spec in _CATEGORY_SPECS}


def _unique_titles(rng: random.Random, categories: list[str]) -> tuple[list[str], list[str | None]]:
    """A distinct title and a brand (None where the category has none) for each product."""
    used: set[str] = set()
    titles: list[str] = []
    brands: list[str | None] = []
    for category in categories:
        spec = _SPECS_BY_SLUG[category]
        brand_pool, nouns = spec[2], spec[6]
        brand = rng.choice(brand_pool) if brand_pool else None
        title = ""
        for _attempt in range(8):
            noun, adjective, roll = rng.choice(nouns), rng.choice(_ADJECTIVES), rng.random()
            if brand and roll < 0.45:
                title = f"{brand} {noun}"
            elif brand and roll < 0.65:
                title = f"{brand} {adjective} {noun}"
            elif roll < 0.8:
                title = f"{adjective} {noun}"
            else:
                title = noun
            if title not in used:
                break
        if title in used:
            base, n = title, 0
            while title in used:
                title = f"{base} {_VARIANTS[n % len(_VARIANTS)]}"
                if n >= len(_VARIANTS):
                    title += f" {n // len(_VARIANTS) + 1}"
                n += 1
        used.add(title)
        titles.append(title)
        brands.append(brand)
    return titles, brands


def _with_duplicate_titles(rng: random.Random, titles: list[str]) -> list[str]:
    """The duplicate-title trap: a few products take an earlier product's title."""
    titles = list(titles)
    if len(titles) >= 2:
        duplicates = max(1, round(len(titles) * DUPLICATE_TITLE_SHARE))
        for index in sorted(rng.sample(range(1, len(titles)), duplicates)):
            titles[index] = titles[rng.randrange(index)]
    return titles


def _description(rng: random.Random, title: str, kind: str, uses: tuple[str, ...]) -> str:
    """A sentence like the real ones, with a closing one when it stays within 203 characters."""
    quality = rng.choice(_QUALITIES)
    article = "an" if quality[0] in "aeiou" else "a"
    description = f"The {title} is {article} {quality} {kind} {rng.choice(uses)}."
    closing = rng.choice(_CLOSINGS)
    if len(description) + 1 + len(closing) <= 203:
        description += " " + closing
    return description


def _tags(rng: random.Random, main_tags: tuple[str, ...], other_tags: tuple[str, ...]) -> list[str]:
    """One of the category's main tags, then mostly one and rarely two others, as in the data."""
    tag_count = rng.choices((1, 2, 3), weights=(15, 82, 3))[0]
    tags = [rng.choice(main_tags)]
    for tag in rng.sample(other_tags, min(len(other_tags), tag_count - 1)):
        if tag not in tags:
            tags.append(tag)
    return tags


def _stock(rng: random.Random) -> int:
    """Mostly in stock; a few products out of stock or low, so every status occurs."""
    roll = rng.random()
    if roll < 0.02:
        return 0
    if roll < 0.09:
        return rng.randint(1, 7)
    return rng.randint(8, 100)


def _availability(stock: int) -> str:
    """``availabilityStatus`` as DummyJSON derives it from ``stock``."""
    return "Out of Stock" if stock == 0 else "Low Stock" if stock <= 7 else "In Stock"


def _sku(category: str, brand: str | None, title: str, product_id: int) -> str:
    """``AAA-AAA-AAA-000``: unique because the id ends it (wider past id 999)."""
    sku = f"{_letters(category)}-{_letters(brand) if brand else 'BRD'}-{_letters(title)}"
    return sku + f"-{product_id:03d}"


def _review(rng: random.Random, timestamp: str) -> dict[str, Any]:
    """One review whose comment agrees with its rating (a 3 may go either way)."""
    rating = rng.choices((1, 2, 3, 4, 5), weights=(8, 10, 12, 35, 35))[0]
    if rating >= 4:
        comment = rng.choice(_POSITIVE_COMMENTS)
    elif rating <= 2:
        comment = rng.choice(_NEGATIVE_COMMENTS)
    else:
        comment = rng.choice(_POSITIVE_COMMENTS + _NEGATIVE_COMMENTS)
    first, last = rng.choice(_FIRST_NAMES), rng.choice(_LAST_NAMES)
    return {
        "rating": rating,
        "comment": comment,
        "date": timestamp,
        "reviewerName": f"{first} {last}",
        "reviewerEmail": f"{first.lower()}.{last.lower()}@x.dummyjson.com",
    }


def _unique_barcode(rng: random.Random, used: set[str]) -> str:
    """A 13-digit barcode no earlier product has; it is added to ``used``."""
    barcode = str(rng.randrange(10**12, 10**13))
    while barcode in used:
        barcode = str(rng.randrange(10**12, 10**13))
    used.add(barcode)
    return barcode


def _unique_image_dir(category: str, title: str, product_id: int, used: set[str]) -> str:
    """Where the product's images are, unique across the catalog; it is added to ``used``."""
    image_dir = f"{IMAGE_BASE}/{category}/{_image_slug(title)}"
    if image_dir in used:  # a duplicate title in the same category
        image_dir += f"-{product_id}"
    used.add(image_dir)
    return image_dir


def _product(
    rng: random.Random,
    product_id: int,
    category: str,
    title: str,
    brand: str | None,
    used_barcodes: set[str],
    used_image_dirs: set[str],
) -> dict[str, Any]:
    """One product in DummyJSON's key order.

    The random draws are made in a fixed order (the dict's values are evaluated top to bottom):
    moving one changes every catalog a seed gives.
    """
    spec = _SPECS_BY_SLUG[category]
    (low, high), main_tags, other_tags, kind, uses = spec[3], spec[4], spec[5], spec[7], spec[8]
    description = _description(rng, title, kind, uses)
    tags = _tags(rng, main_tags, other_tags)
    stock = _stock(rng)
    timestamp = TIMESTAMPS[0] if rng.random() < 0.6 else TIMESTAMPS[1]
    reviews = [_review(rng, timestamp) for _ in range(3)]
    barcode = _unique_barcode(rng, used_barcodes)
    image_dir = _unique_image_dir(category, title, product_id, used_image_dirs)
    image_count = rng.choices(*_IMAGE_COUNT_CHOICES)[0]

    product: dict[str, Any] = {
        "id": product_id,
        "title": title,
        "description": description,
        "category": category,
        "price": _money(rng, low, high),
        "discountPercentage": _decimal(rng, 0.04, 19.61, 0.01),
        "rating": _decimal(rng, 2.51, 4.99, 0.01),
        "stock": stock,
        "tags": tags,
    }
    if brand is not None:
        product["brand"] = brand
    product.update(
        {
            "sku": _sku(category, brand, title, product_id),
            "weight": rng.randint(1, 10),
            "dimensions": {
                "width": _decimal(rng, 5.02, 29.88, 0.01),
                "height": _decimal(rng, 5.02, 29.88, 0.01),
                "depth": _decimal(rng, 5.02, 29.88, 0.01),
            },
            "warrantyInformation": rng.choices(*_WARRANTY_CHOICES)[0],
            "shippingInformation": rng.choices(*_SHIPPING_CHOICES)[0],
            "availabilityStatus": _availability(stock),
            "reviews": reviews,
            "returnPolicy": rng.choices(*_RETURN_CHOICES)[0],
            "minimumOrderQuantity": rng.randint(1, 50),
            "meta": {
                "createdAt": timestamp,
                "updatedAt": timestamp,
                "barcode": barcode,
                "qrCode": QR_CODE_URL,
            },
            "images": [f"{image_dir}/{n}.webp" for n in range(1, image_count + 1)],
            "thumbnail": f"{image_dir}/thumbnail.webp",
        }
    )
    return product


def generate_catalog(count: int, seed: int) -> list[dict[str, Any]]:
    """``count`` products (ids 1..count) in DummyJSON's current shape; same seed, same catalog."""
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        raise ValueError(f"count must be an int >= 0, got {count!r}")
    rng = random.Random(seed)
    categories = allocate_categories(count)
    titles, brands = _unique_titles(rng, categories)
    titles = _with_duplicate_titles(rng, titles)
    used_barcodes: set[str] = set()
    used_image_dirs: set[str] = set()
    rows = zip(categories, titles, brands, strict=True)
    return [
        _product(rng, product_id, category, title, brand, used_barcodes, used_image_dirs)
        for product_id, (category, title, brand) in enumerate(rows, start=1)
    ]


def write_catalog(products: list[dict[str, Any]], path: str | os.PathLike[str]) -> Path:
    """Write ``products`` as a bare JSON array, like ``products.json``.

    The file is replaced atomically, so a
    :class:`~sync_pipeline.local.dummyjson_server.server.DummyJSONServer` watching it never reads
    half a file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o644)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(products, handle, ensure_ascii=False, indent=2)
            handle.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
