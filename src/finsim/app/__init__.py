"""The interactive explorer, ``finsim app``: a web page (Streamlit) on which a finance
director chooses a scenario, moves the parameters that matter and sees the results of
1,000 replications, without writing Python.

It needs the optional ``app`` extra (``pip install 'finsim[app]'``: Streamlit, matplotlib
for the charts, openpyxl for the workbook). Only :mod:`finsim.app.page`,
:mod:`finsim.app.view` and the script :mod:`finsim.app.streamlit_app` import Streamlit;
the rest is plain Python that the tests and a notebook can use without a browser:

* :mod:`finsim.app.sources`: finsim's examples and uploaded files, read by finsim's loader;
* :mod:`finsim.app.controls`: the parameters, each mapped to its scenario path, applied as
  a variant-like overlay that finsim validates;
* :mod:`finsim.app.running`: a run, with its progress read from finsim.run's progress bar;
* :mod:`finsim.app.outcomes`: what is shown of the results, and the workbook.

See docs/app.md.
"""
