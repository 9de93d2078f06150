"""/market: last traded prices (the feed's cache, else the caller's broker)."""

from __future__ import annotations

from quart import Blueprint
from quart_schema import validate_response

from core.rbac import Permission
from core.strategies.strategy_validator import parse_symbol
from web.resources import get_resources
from web.schemas.market import LtpOut
from web.security import current_principal, require

blueprint = Blueprint("market", __name__, url_prefix="/market")


@blueprint.get("/ltp/<exchange>/<symbol>")
@require(Permission.STRATEGIES_OWN)
@validate_response(LtpOut)
async def ltp(exchange: str, symbol: str) -> LtpOut:
    """The last traded price of an instrument, e.g. /market/ltp/NSE/RELIANCE."""
    exchange, symbol = parse_symbol(f"{exchange}:{symbol}")
    quote = await get_resources().services.quotes.ltp(current_principal().user_id,
                                                      exchange, symbol)
    return LtpOut(exchange=quote.exchange, symbol=quote.symbol, ltp=quote.ltp,
                  ltp_paise=quote.ltp_paise, source=quote.source)
