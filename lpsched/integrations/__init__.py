"""lpsched's policies inside serving engines.

* :mod:`lpsched.integrations.driver`: :class:`~lpsched.integrations.driver.PolicyDriver`,
  an engine policy driven from another scheduler's state (no third-party import);
* :mod:`lpsched.integrations.predictor`: output-length predictors (the default is fitted
  to the bundled trace profiles);
* :mod:`lpsched.integrations.vllm`: vLLM V1 scheduler classes (needs vLLM, the optional
  extra ``pip install "lpsched[vllm]"``; importing :mod:`lpsched` never imports vLLM).
"""
