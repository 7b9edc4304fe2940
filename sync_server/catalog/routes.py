"""Products, barcodes and categories."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from sqlalchemy import select

from common.roles import Permission
from common.schemas.base import Id, Page, problem_responses
from common.schemas.catalog import (
    BarcodeLookupRead,
    CategoryCreate,
    CategoryRead,
    CategoryUpdate,
    ProductCreate,
    ProductRead,
    ProductUpdate,
    TemplateCreate,
    TemplateRead,
)
from sync_server.catalog import search, service, variants
from sync_server.catalog.models import Category, Product
from sync_server.foundation.deps import Requires, SessionDep
from sync_server.foundation.principal import Principal
from sync_server.paging import PageParams, SortedBy, UpdatedSince, get_owned, like_pattern, paginate

router = APIRouter(tags=["catalog"])


@router.get("/products", response_model=Page[ProductRead])
def list_products(
    session: SessionDep,
    principal: Annotated[Principal, Requires(Permission.CATALOG_READ)],
    page: Annotated[
        PageParams, SortedBy("created_at", "name", "price", "sku", "updated_at", "relevance")
    ],
    q: Annotated[
        str | None,
        Query(
            max_length=100,
            description="Words or fragments of the name, SKU, barcode, "
            "category or attributes; results are ranked best first",
        ),
    ] = None,
    category_id: Id | None = None,
    supplier_id: Id | None = None,
    active: bool | None = True,
    updated_since: UpdatedSince = None,
) -> dict[str, Any]:
    """List products with search, filters, sorting and paging."""
    sortable = {
        "name": Product.name,
        "sku": Product.sku,
        "price": Product.price,
        "created_at": Product.created_at,
        "updated_at": Product.updated_at,
    }
    stmt = select(Product).where(Product.tenant_id == principal.tenant_id)
    default_sort = "name"
    found = search.search_statement(session, tenant_id=principal.tenant_id, query=q or "")
    if found is not None:
        stmt, rank = found
        sortable["relevance"] = rank
        default_sort = "-relevance"
    else:
        sortable["relevance"] = Product.name  # without search words, every row ranks the same
    if category_id is not None:
        stmt = stmt.where(Product.category_id == category_id)
    if supplier_id is not None:
        stmt = stmt.where(Product.supplier_id == supplier_id)
    if active is not None:
        stmt = stmt.where(Product.active.is_(active))
    if updated_since is not None:
        stmt = stmt.where(Product.updated_at >= updated_since)
    return paginate(
        session,
        stmt,
        params=page,
        sortable=sortable,
        default_sort=default_sort,
        tiebreak=(Product.name, Product.id),
    )


@router.post(
    "/products",
    response_model=ProductRead,
    status_code=201,
    responses=problem_responses(404, 409, 422),
)
def create_product(
    body: ProductCreate,
    session: SessionDep,
    principal: Annotated[Principal, Requires(Permission.CATALOG_WRITE)],
) -> Product:
    """Create a product; set generate_barcode to get an in-store EAN-13."""
    return service.create_product(session, actor=principal, data=body)


@router.get(
    "/products/by-barcode/{code}",
    response_model=BarcodeLookupRead,
    responses=problem_responses(404, 422),
)
def product_by_barcode(
    code: Annotated[str, Path(max_length=64)],
    session: SessionDep,
    principal: Annotated[Principal, Requires(Permission.CATALOG_READ)],
) -> dict[str, Any]:
    """Find a product by a scanned code (UPC-A, EAN-13, weight/price labels, Code 128)."""
    return service.find_by_barcode(session, tenant_id=principal.tenant_id, code=code)


@router.get("/products/{product_id}", response_model=ProductRead, responses=problem_responses(404))
def get_product(
    product_id: Id,
    session: SessionDep,
    principal: Annotated[Principal, Requires(Permission.CATALOG_READ)],
) -> Product:
    """Return one product."""
    return service.product_or_404(session, tenant_id=principal.tenant_id, product_id=product_id)


@router.patch(
    "/products/{product_id}", response_model=ProductRead, responses=problem_responses(404, 409, 422)
)
def update_product(
    product_id: Id,
    body: ProductUpdate,
    session: SessionDep,
    principal: Annotated[Principal, Requires(Permission.CATALOG_WRITE)],
) -> Product:
    """Change a product; send active=false to archive it."""
    product = service.product_or_404(session, tenant_id=principal.tenant_id, product_id=product_id)
    return service.update_product(session, actor=principal, product=product, data=body)


@router.get("/categories", response_model=Page[CategoryRead])
def list_categories(
    session: SessionDep,
    principal: Annotated[Principal, Requires(Permission.CATALOG_READ)],
    page: Annotated[PageParams, SortedBy("name")],
    q: Annotated[str | None, Query(max_length=100)] = None,
) -> dict[str, Any]:
    """List product categories."""
    stmt = select(Category).where(Category.tenant_id == principal.tenant_id)
    if q:
        stmt = stmt.where(Category.name.ilike(like_pattern(q), escape="\\"))
    return paginate(
        session,
        stmt,
        params=page,
        sortable={"name": Category.name},
        default_sort="name",
        tiebreak=Category.id,
    )


@router.post(
    "/categories",
    response_model=CategoryRead,
    status_code=201,
    responses=problem_responses(404, 409, 422),
)
def create_category(
    body: CategoryCreate,
    session: SessionDep,
    principal: Annotated[Principal, Requires(Permission.CATALOG_WRITE)],
) -> Category:
    """Create a category."""
    return service.create_category(session, actor=principal, data=body)


@router.get(
    "/categories/{category_id}", response_model=CategoryRead, responses=problem_responses(404)
)
def get_category(
    category_id: Id,
    session: SessionDep,
    principal: Annotated[Principal, Requires(Permission.CATALOG_READ)],
) -> Category:
    """Return one category."""
    return get_owned(
        session, Category, id=category_id, tenant_id=principal.tenant_id, what="category"
    )


@router.patch(
    "/categories/{category_id}",
    response_model=CategoryRead,
    responses=problem_responses(404, 409, 422),
)
def update_category(
    category_id: Id,
    body: CategoryUpdate,
    session: SessionDep,
    principal: Annotated[Principal, Requires(Permission.CATALOG_WRITE)],
) -> Category:
    """Rename a category or move it under another."""
    category = get_owned(
        session, Category, id=category_id, tenant_id=principal.tenant_id, what="category"
    )
    return service.update_category(session, actor=principal, category=category, data=body)


@router.post(
    "/product-templates",
    response_model=TemplateRead,
    status_code=201,
    responses=problem_responses(404, 409, 422),
)
def create_template(
    body: TemplateCreate,
    session: SessionDep,
    principal: Annotated[Principal, Requires(Permission.CATALOG_WRITE)],
) -> dict[str, Any]:
    """Create a template and a variant (own SKU, barcode, price, stock) per combination."""
    template = variants.create_template(session, actor=principal, data=body)
    return variants.template_read(session, tenant_id=principal.tenant_id, template_id=template.id)


@router.get(
    "/product-templates/{template_id}",
    response_model=TemplateRead,
    responses=problem_responses(404),
)
def get_template(
    template_id: Id,
    session: SessionDep,
    principal: Annotated[Principal, Requires(Permission.CATALOG_READ)],
) -> dict[str, Any]:
    """Return a template with its variants."""
    return variants.template_read(session, tenant_id=principal.tenant_id, template_id=template_id)
