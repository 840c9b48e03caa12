{#- Macros every model may call (put in scope by pipeline/warehouse_models/render.py). -#}

{#- The month index of a date: months since year 0, so that consecutive calendar months
    differ by 1 (January 2019 = 2019 * 12). The one form of month arithmetic of the build. -#}
{% macro month_index(day) %}(year({{ day }}) * 12 + month({{ day }}) - 1){% endmacro %}
