"""Ranked product search, identical in results and order on SQLite and PostgreSQL.

The index (FTS5 trigram / pg_trgm) only narrows the candidates to documents containing
every term; the ranking is one portable CASE expression, so both engines order alike.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, and_, case, func, literal, select, text
from sqlalchemy.orm import Session

from sync_server.catalog.models import Product, ProductBarcode, ProductSearchDoc
from sync_server.db import is_sqlite
from sync_server.paging import like_pattern

MAX_TERMS = 8


def document_for(product: Product) -> str:
    """Return the lower-cased text a product is found by."""
    attributes = " ".join(
        f"{key} {value}"
        for key, value in sorted((product.attributes or {}).items())
        if isinstance(value, str | int)
    )
    parts = [
        product.name,
        product.sku,
        " ".join(product.barcodes),
        product.category_name or "",
        attributes,
    ]
    return " ".join(p for p in parts if p).lower()[:8000]


def index_product(session: Session, product: Product) -> None:
    """Write (or rewrite) a product's search document in the caller's transaction."""
    doc = session.get(ProductSearchDoc, product.id)
    text_ = document_for(product)
    if doc is None:
        session.add(
            ProductSearchDoc(product_id=product.id, tenant_id=product.tenant_id, document=text_)
        )
    elif doc.document != text_:
        doc.document = text_


def terms_of(query: str) -> list[str]:
    """Split a query into lower-case terms (at most MAX_TERMS)."""
    return [t for t in query.lower().split() if t][:MAX_TERMS]


def _fts_phrase(term: str) -> str:
    return '"' + term.replace('"', '""') + '"'


def candidate_filter(session: Session, *, terms: list[str]):
    """Return a WHERE clause: the product's document contains every term."""
    long_terms = [t for t in terms if len(t) >= 3]
    short_terms = [t for t in terms if len(t) < 3]
    clauses = [ProductSearchDoc.document.like(like_pattern(t), escape="\\") for t in short_terms]
    if long_terms:
        if is_sqlite(session.get_bind()):
            # Trigram MATCH is a substring test served by the FTS5 index.
            match = " AND ".join(_fts_phrase(t) for t in long_terms)
            clauses.append(
                ProductSearchDoc.product_id.in_(
                    select(text("rowid"))
                    .select_from(text("product_search_fts"))
                    .where(text("product_search_fts MATCH :match"))
                    .params(match=match)
                )
            )
        else:
            clauses.extend(
                ProductSearchDoc.document.like(like_pattern(t), escape="\\") for t in long_terms
            )
    return and_(*clauses)


def rank_expression(*, query: str, terms: list[str]):
    """Return the score: exact code > exact SKU > SKU prefix > name prefix > name > other."""
    exact = query.strip()
    lowered = exact.lower()
    barcode_hit = (
        select(literal(1))
        .where(ProductBarcode.product_id == Product.id, ProductBarcode.code == exact)
        .exists()
    )
    name = func.lower(Product.name)
    sku = func.lower(Product.sku)
    all_in_name = and_(*[name.like(like_pattern(t), escape="\\") for t in terms])
    return case(
        (barcode_hit, 100),
        (sku == lowered, 90),
        (sku.like(like_pattern(lowered)[1:], escape="\\"), 80),
        (name.like(like_pattern(lowered)[1:], escape="\\"), 70),
        (all_in_name, 60),
        else_=50,
    )


def search_statement(
    session: Session, *, tenant_id: int, query: str
) -> tuple[Select[Any], Any] | None:
    """Return (products of the tenant matching query, their rank), or None for a blank query."""
    terms = terms_of(query)
    if not terms:
        return None
    rank = rank_expression(query=query, terms=terms)
    stmt = (
        select(Product)
        .join(ProductSearchDoc, ProductSearchDoc.product_id == Product.id)
        .where(
            ProductSearchDoc.tenant_id == tenant_id,
            Product.tenant_id == tenant_id,
            candidate_filter(session, terms=terms),
        )
    )
    return stmt, rank
