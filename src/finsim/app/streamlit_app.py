"""The script ``finsim app`` hands to Streamlit (``streamlit run``): it draws the explorer's
page, :func:`finsim.app.page.main`. Streamlit runs it as ``__main__`` on every interaction."""

from __future__ import annotations

if __name__ == "__main__":
    from finsim.app.page import main

    main()
