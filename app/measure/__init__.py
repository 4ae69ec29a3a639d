"""Online measurement: what each answer showed (``impressions``), which events it earned (``attribution``), and
the figures over them (``online``, ``wilson``). Below the API, beside the recommender: it reads and writes the
store only, so the experiments that will assign variants can record through the same hooks (``variant``,
``experiment_id``, per-item ``teams`` of ``ImpressionLog.record``)."""
