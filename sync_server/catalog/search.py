"""Ranked product search, identical in results and order on SQLite and PostgreSQL.

The index (FTS5 trigram / pg_trgm) only narrows the candidates to documents containing
every term; the ranking is one portable CASE expression, so both engines order alike.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Case, ColumnElement, Select, and_, case, func, or_, select, text, union
from sqlalchemy.orm import Session

from sync_server.catalog.models import Product, ProductBarcode, ProductSearchDoc
from sync_server.db import is_sqlite
from sync_server.lookups import like_pattern

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


def candidate_filter(session: Session, *, terms: list[str]) -> ColumnElement[bool]:
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


# Broad queries ("a", a shared barcode prefix) can match most of the catalog; ranking them
# all would cost a scan and tell the user nothing. Exact codes and SKUs are always found
# through their own indexes; substring matches are ranked among the first MAX_CANDIDATES.
MAX_CANDIDATES = 2000


def exact_ids(session: Session, *, tenant_id: int, query: str) -> tuple[list[int], list[int]]:
    """Return ids whose barcode, and ids whose SKU, is exactly the query (indexed lookups)."""
    exact = query.strip()
    by_code = session.scalars(
        select(ProductBarcode.product_id).where(
            ProductBarcode.tenant_id == tenant_id, ProductBarcode.code == exact
        )
    ).all()
    by_sku = session.scalars(
        select(Product.id).where(Product.tenant_id == tenant_id, Product.sku == exact)
    ).all()
    return list(by_code), list(by_sku)


def rank_expression(
    *, query: str, terms: list[str], barcode_ids: list[int], sku_ids: list[int]
) -> Case[int]:
    """Return the score: exact code > exact SKU > SKU prefix > name prefix > name > other."""
    lowered = query.strip().lower()
    name = func.lower(Product.name)
    sku = func.lower(Product.sku)
    all_in_name = and_(*[name.like(like_pattern(t), escape="\\") for t in terms])
    return case(
        (Product.id.in_(barcode_ids or [-1]), 100),
        (or_(Product.id.in_(sku_ids or [-1]), sku == lowered), 90),
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
    barcode_ids, sku_ids = exact_ids(session, tenant_id=tenant_id, query=query)
    candidates = (
        select(ProductSearchDoc.product_id)
        .where(ProductSearchDoc.tenant_id == tenant_id, candidate_filter(session, terms=terms))
        .limit(MAX_CANDIDATES)
    )
    rank = rank_expression(query=query, terms=terms, barcode_ids=barcode_ids, sku_ids=sku_ids)
    exact = select(Product.id).where(Product.id.in_(barcode_ids + sku_ids or [-1]))
    # One IN over a UNION lets both engines fetch rows by primary key instead of scanning.
    stmt = select(Product).where(
        Product.tenant_id == tenant_id,
        Product.id.in_(union(select(candidates.subquery().c.product_id), exact)),
    )
    return stmt, rank
